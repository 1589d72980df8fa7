#!/usr/bin/env bash
# kills.sh: kill -9 of canaryd, three times in the middle of a rollout under load: no
# connection fails, and each restart resumes at the step it had saved. (make soak runs
# the same scenario 20 times; scripts/soak.sh holds it.)
SOAK_LIB=1 . "$(dirname "$0")/../../scripts/soak.sh"
kills 3

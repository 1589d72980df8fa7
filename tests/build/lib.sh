# lib.sh: what every tests/build check starts with (sourced): strict mode, the top of the
# tree as the working directory, a scratch directory removed on exit, and ok/nok lines
# counted for the closing "N passed, M failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
nok() { echo "not ok - $*"; failed=$((failed + 1)); }

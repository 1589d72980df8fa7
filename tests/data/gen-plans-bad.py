#!/usr/bin/env python3
# Writes tests/data/plans-bad/: malformed rollout plans, each headed by the line and
# field its error must name (see corpus_refused in tests/integration/lib.sh). The files
# are committed; rerun this after changing a case.
import os
BASE = """service: web
steps: [1, 5, 25, 50, 100]
hold: 10s
min_flows: 200
analysis:
  alpha: 0.01
  tolerance: 1.1
  signals: [http_5xx, resets, unanswered_syn, errored_flows]
on_rollback: drain
"""
METRIC = """  metrics:
    - name: ctr
      direction: lower_is_worse
      source:
        prometheus:
          url: http://127.0.0.1:9090
          successes: { stable: 'sum(c{arm="stable"})', canary: 'sum(c{arm="canary"})' }
          trials: { stable: 'sum(t{arm="stable"})', canary: 'sum(t{arm="canary"})' }
"""
def sub(old, new, base=BASE):
    assert old in base, old
    return base.replace(old, new + "  #!")
WM = BASE.replace("on_rollback: drain\n", "") + METRIC + "on_rollback: drain\n"
cases = [
 ("steps-missing", BASE.replace("steps: [1, 5, 25, 50, 100]\n", ""), "steps"),
 ("steps-empty", sub("steps: [1, 5, 25, 50, 100]", "steps: []"), "steps"),
 ("steps-falling", sub("steps: [1, 5, 25, 50, 100]", "steps: [5, 1, 100]"), "steps[1]"),
 ("steps-zero", sub("steps: [1, 5, 25, 50, 100]", "steps: [0, 50]"), "steps[0]"),
 ("steps-above-100", sub("steps: [1, 5, 25, 50, 100]", "steps: [1, 150]"), "steps[1]"),
 ("steps-three-decimals", sub("steps: [1, 5, 25, 50, 100]", "steps: [1.125, 50]"), "steps[0]"),
 ("steps-word", sub("steps: [1, 5, 25, 50, 100]", "steps: [one]"), "steps[0]"),
 ("steps-too-many", sub("steps: [1, 5, 25, 50, 100]", "steps: [" + ", ".join(str(x/100) for x in range(1, 80)) + "]"), "steps"),
 ("steps-range-incomplete", sub("steps: [1, 5, 25, 50, 100]", "steps: {start: 5, step: 10}"), "steps"),
 ("hold-unit", sub("hold: 10s", "hold: 10 parsecs"), "hold"),
 ("hold-negative", sub("hold: 10s", "hold: -10s"), "hold"),
 ("hold-space", sub("hold: 10s", 'hold: " 10s"'), "hold"),
 ("min-flows-negative", sub("min_flows: 200", "min_flows: -1"), "min_flows"),
 ("min-flows-plus", sub("min_flows: 200", 'min_flows: "+200"'), "min_flows"),
 ("alpha-zero", sub("  alpha: 0.01", "  alpha: 0"), "analysis.alpha"),
 ("alpha-big", sub("  alpha: 0.01", "  alpha: 0.9"), "analysis.alpha"),
 ("alpha-nan", sub("  alpha: 0.01", "  alpha: .nan"), "analysis.alpha"),
 ("tolerance-below-1", sub("  tolerance: 1.1", "  tolerance: 0.5"), "analysis.tolerance"),
 ("signal-unknown", sub("  signals: [http_5xx, resets, unanswered_syn, errored_flows]", "  signals: [http_5xx, latency]"), "analysis.signals[1]"),
 ("signals-scalar", sub("  signals: [http_5xx, resets, unanswered_syn, errored_flows]", "  signals: http_5xx"), "analysis.signals"),
 ("on-rollback-unknown", sub("on_rollback: drain", "on_rollback: explode"), "on_rollback"),
 ("service-bad", sub("service: web", "service: Web!"), "service"),
 ("service-missing", BASE.replace("service: web\n", ""), "service"),
 ("unknown-top", sub("hold: 10s", "hold: 10s\nholdd: 5s"), "(top level)"),
 ("unknown-analysis", sub("  tolerance: 1.1", "  tolerance: 1.1\n  tolerence: 1.2"), "analysis"),
 ("analysis-list", BASE.replace("analysis:\n  alpha: 0.01\n  tolerance: 1.1\n  signals: [http_5xx, resets, unanswered_syn, errored_flows]\n", "analysis: [1, 2]  #!\n"), "analysis"),
 ("metric-stale-zero", sub("      direction: lower_is_worse", "      direction: lower_is_worse\n      stale_after: 0s", WM), "analysis.metrics[0]"),
 ("metric-named-signal", sub("    - name: ctr", "    - name: resets", WM), "analysis.metrics[0]"),
 ("metric-url-crlf", sub("          url: http://127.0.0.1:9090", '          url: "http://127.0.0.1:9090\\r\\nX-Evil: 1"', WM), "analysis.metrics[0].source.prometheus"),
 ("metric-url-scheme", sub("          url: http://127.0.0.1:9090", "          url: file:///etc/passwd", WM), "analysis.metrics[0].source.prometheus"),
 ("metric-direction", sub("      direction: lower_is_worse", "      direction: sideways", WM), "analysis.metrics[0]"),
 ("metric-no-canary-query", WM.replace("""          trials: { stable: 'sum(t{arm="stable"})', canary: 'sum(t{arm="canary"})' }""", """          trials: { stable: 'sum(t{arm="stable"})' }  #!"""), "analysis.metrics[0].source.prometheus.trials"),
 ("metric-error-limit-zero", sub("      direction: lower_is_worse", "      direction: lower_is_worse\n      error_limit: 0", WM), "analysis.metrics[0].error_limit"),
 ("no-traffic-pause-short", sub("hold: 10s", "hold: 10s\nno_traffic_pause: 100ms"), "no_traffic_pause"),
 ("two-documents", BASE + "---\nservice: api\nsteps: [100]\n", None),
 ("deep-nesting", "service: web\nsteps: " + "[" * 80 + "]" * 80 + "\n", None),
 ("alias", "w: &w 5\nservice: web\nsteps: [*w, 50]\n", None),
 ("top-list", "- service: web\n", "(top level)"),
 ("syntax-error", "service: web\nsteps: [1, 5\n", None),
 ("empty", "", None),
]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plans-bad")
os.makedirs(out, exist_ok=True)
for f in os.listdir(out): os.remove(os.path.join(out, f))
for i, (name, text, field) in enumerate(cases, 1):
    lines = text.split("\n"); line = None
    for n, l in enumerate(lines, 1):
        if l.endswith("  #!"):
            line = n + 1; lines[n-1] = l[:-4]
    text = "\n".join(lines)
    if field is None:
        header = "# expect: (any error with a line)\n" if name != "empty" else "# expect: (file error)\n"
    elif line is None:
        header = "# expect: %s\n" % field
    else:
        header = "# expect: %d: %s\n" % (line, field)
    with open(os.path.join(out, "%02d-%s.yaml" % (i, name)), "w") as f:
        f.write(header + text)
print(len(cases))

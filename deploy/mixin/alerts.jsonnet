// Renders deploy/prometheus/alerts.yml: `jsonnet -S deploy/mixin/alerts.jsonnet > deploy/prometheus/alerts.yml`.
// A test checks the committed file equals this output. `--tla-code config='{unreadableFor: "10s"}'`
// overrides parameters (the live test renders test-sized durations this way).
function(config={})
  local mixin = (import 'mixin.libsonnet') + { _config+:: config };
  |||
    # GENERATED from deploy/mixin/ by `jsonnet -S deploy/mixin/alerts.jsonnet`: edit the mixin, not this file
    # (the tests fail while the two differ). Thresholds, `for:` durations, the job selector and the
    # runbook links are parameters in deploy/mixin/config.libsonnet.
    #
    # Every alert here clears by itself once the condition is gone: none of them needs a silence.
    # `promtool test rules alerts_test.yml` shows the timing of each alert.
    #
    # deploy/kubernetes/base/prometheusrule.yaml carries the same groups; after changing this file run
    #   python3 deploy/kubernetes/sync_prometheusrule.py
  ||| + std.manifestYamlDoc(mixin.prometheusAlerts, indent_array_in_object=true, quote_keys=false) + '\n'

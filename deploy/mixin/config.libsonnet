// The one place for the rules' selector and thresholds (the monitoring-mixin _config convention):
// override any field, e.g. (import 'mixin.libsonnet') + { _config+:: { selector: 'job="dli"' } }.
{
  _config+:: {
    // which scrape job is the watcher (prometheus.example.yml and the ServiceMonitor call it dli-watcher)
    selector: 'job="dli-watcher"',
    // where the runbook_url annotations point: the README's "Runbook" section, one anchor per alert.
    // It is pyproject.toml's Documentation URL (tests/test_release.py checks they agree); point it at
    // your own copy of the README if you deploy a fork
    runbookURLBase: 'https://github.com/dli-watcher/dli-watcher/blob/main/README.md',

    stuckStartingSeconds: 1800,
    stuckStartingText: '30m',
    stuckStartingFor: '5m',
    runningTooLongSeconds: 6 * 3600,
    runningTooLongText: '6h',
    runningTooLongFor: '15m',
    noSuccessSeconds: 25 * 3600,
    noSuccessText: '25h',
    noSuccessFor: '10m',
    unreadableFor: '10m',
    notFoundFor: '15m',
    downFor: '5m',
    absentFor: '15m',
    notPollingSeconds: 600,
    notPollingFor: '5m',
    pollErrorRatio: 0.2,
    pollErrorText: '20%',
    pollErrorWindow: '10m',
    pollErrorFor: '15m',
    logGapWindow: '30m',
  },
}

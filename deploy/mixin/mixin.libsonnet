// dli-watcher's monitoring mixin: _config, prometheusAlerts (grafanaDashboards: deploy/grafana/dashboard.json).
(import 'config.libsonnet') + (import 'alerts.libsonnet')

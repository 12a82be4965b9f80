// The alerting rules. Each alert's runbook_url is the README section that says what to do.
local unfinished = 'success|dead|killed|error';
{
  local c = self._config,
  local runbook(name) = c.runbookURLBase + '#' + std.asciiLower(name),
  local alert(name, severity, expr, summary, description, wait='') = {
    alert: name,
    expr: expr,
    [if wait != '' then 'for']: wait,
    labels: { severity: severity },
    annotations: { summary: summary, description: description, runbook_url: runbook(name) },
  },

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'dli-watcher-jobs',
        rules: [
          // the newest run of any watcher decides: in the sharded StatefulSet the next run of a job may
          // land on another pod, whose later finish then clears the alert
          alert(
            'DLIJobLastRunFailed',
            'warning',
            |||
              (dli_job_last_outcome{%(selector)s, outcome="failed"} == 1)
                and on (instance, job_name)
                  (
                    dli_job_last_finish_timestamp_seconds{%(selector)s}
                      == on (job_name) group_left ()
                        max by (job_name) (dli_job_last_finish_timestamp_seconds{%(selector)s})
                  )
            ||| % c,
            'DLI job {{ $labels.job_name }}: the last run failed',
            'The most recent finished batch of job "{{ $labels.job_name }}" ended dead or error (watcher {{ $labels.instance }}). Its batch.finished and batch.log events carry the YARN diagnostics. Clears when a later batch of the job succeeds or is killed.',
          ),
          alert(
            'DLIBatchStuckStarting',
            'warning',
            |||
              (time() - dli_batch_state_since_timestamp_seconds{%(selector)s})
                * ignoring (state) group_left (state)
                  (dli_batch_state{%(selector)s, state=~"not_started|starting|recovering"} == 1)
                * ignoring (state, job_name, queue, owner, kind, sc_type) group_left (job_name, queue)
                  dli_batch_info{%(selector)s}
              > %(stuckStartingSeconds)s
            ||| % c,
            'DLI batch {{ $labels.batch_id }} stuck in {{ $labels.state }}',
            'Batch {{ $labels.batch_id }} of job "{{ $labels.job_name }}" on queue {{ $labels.queue }} has been {{ $labels.state }} for {{ $value | humanizeDuration }} (threshold %(stuckStartingText)s): the queue may lack resources or the job cannot get its executors. Clears when the batch changes state.' % c,
            c.stuckStartingFor,
          ),
          alert(
            'DLIBatchRunningTooLong',
            'warning',
            |||
              (time() - dli_batch_state_since_timestamp_seconds{%(selector)s})
                * ignoring (state) group_left (state)
                  (dli_batch_state{%(selector)s, state="running"} == 1)
                * ignoring (state, job_name, queue, owner, kind, sc_type) group_left (job_name, queue)
                  dli_batch_info{%(selector)s}
              > %(runningTooLongSeconds)s
            ||| % c,
            'DLI batch {{ $labels.batch_id }} running for {{ $value | humanizeDuration }}',
            'Batch {{ $labels.batch_id }} of job "{{ $labels.job_name }}" on queue {{ $labels.queue }} has been running for {{ $value | humanizeDuration }} (threshold %(runningTooLongText)s). Clears when the batch finishes.' % c,
            c.runningTooLongFor,
          ),
          // The newest success seen by any watcher: in the sharded StatefulSet a job's runs are different
          // batches on different pods. Separate fleets whose job names overlap: add their label to by (...).
          alert(
            'DLIJobNoRecentSuccess',
            'warning',
            'time() - max by (job_name) (dli_job_last_success_timestamp_seconds{%(selector)s}) > %(noSuccessSeconds)s' % c,
            'DLI job {{ $labels.job_name }}: no success for {{ $value | humanizeDuration }}',
            'No batch of job "{{ $labels.job_name }}" has succeeded in the last %(noSuccessText)s (last success {{ $value | humanizeDuration }} ago). Suited to daily jobs; clears with the next success.' % c,
            c.noSuccessFor,
          ),
          // from the first poll on, whether the batch was ever read or not (an endpoint down from the
          // start, a forbidden batch): dli_batch_watch_status exists in every per_batch mode
          alert(
            'DLIBatchUnreadable',
            'warning',
            'dli_batch_watch_status{%(selector)s, status=~"failing|pending"} == 1' % c,
            'dli-watcher cannot read DLI batch {{ $labels.batch_id }}',
            'The polls of batch {{ $labels.batch_id }} by {{ $labels.instance }} have been {{ $labels.status }} for %(unreadableFor)s: its state and logs are not being followed. The batch.poll_failed events and dli_watcher_poll_failures_total{reason} say why (auth: a forbidden batch or bad credentials). Clears with the next successful poll.' % c,
            c.unreadableFor,
          ),
          alert(
            'DLIBatchNotFound',
            'warning',
            'dli_batch_watch_status{%(selector)s, status="not_found"} == 1' % c,
            'DLI batch {{ $labels.batch_id }} does not exist',
            'The API of {{ $labels.instance }} has answered "not found" for batch {{ $labels.batch_id }} since the watcher started watching it (%(notFoundFor)s at least): a mistyped ID, or a batch of another project or region. Clears when the ID is removed from the watch list or the batch appears.' % c,
            c.notFoundFor,
          ),
        ],
      },
      {
        name: 'dli-watcher-self',
        rules: [
          alert(
            'DLIWatcherDown',
            'critical',
            'up{%(selector)s} == 0' % c,
            'dli-watcher {{ $labels.instance }} is down',
            'Prometheus has failed to scrape dli-watcher at {{ $labels.instance }} for %(downFor)s: DLI batches are not being watched and no job alerts can fire.' % c,
            c.downFor,
          ),
          alert(
            'DLIWatcherAbsent',
            'critical',
            'absent(up{%(selector)s})' % c,
            'No dli-watcher target is being scraped',
            'Prometheus has no scrape target matching {%(selector)s} since %(absentFor)s: the watcher or its service discovery (ServiceMonitor, scrape config) is gone.' % c,
            c.absentFor,
          ),
          // only while some batch still needs polls: unfinished, never read, or failing
          alert(
            'DLIWatcherNotPolling',
            'critical',
            |||
              time() - dli_watcher_last_successful_poll_timestamp_seconds{%(selector)s} > %(notPollingSeconds)s
                and on (instance, job)
                  (
                    sum by (instance, job) (dli_watcher_batches{%(selector)s, status=~"pending|failing"}) > 0
                    or
                    sum by (instance, job) (dli_batches{%(selector)s, state!~"%(unfinished)s"}) > 0
                  )
            ||| % (c { unfinished: unfinished }),
            'dli-watcher {{ $labels.instance }} has not polled DLI successfully for {{ $value | humanizeDuration }}',
            'dli-watcher at {{ $labels.instance }} is up but its last successful poll was {{ $value | humanizeDuration }} ago (never, when that is decades): check the DLI endpoint, credentials and the batch.poll_failed events.',
            c.notPollingFor,
          ),
          alert(
            'DLIWatcherPollErrors',
            'warning',
            |||
              sum without (reason) (rate(dli_watcher_poll_failures_total{%(selector)s}[%(pollErrorWindow)s]))
                / rate(dli_watcher_polls_total{%(selector)s}[%(pollErrorWindow)s])
              > %(pollErrorRatio)s
            ||| % c,
            'dli-watcher {{ $labels.instance }}: {{ $value | humanizePercentage }} of polls fail',
            '{{ $value | humanizePercentage }} of the DLI polls of {{ $labels.instance }} failed over the last %(pollErrorWindow)s (threshold %(pollErrorText)s). dli_watcher_poll_failures_total{reason=...} tells timeouts, connection errors, HTTP errors, throttling, auth and decode failures apart.' % c,
            c.pollErrorFor,
          ),
          alert(
            'DLIWatcherLogGaps',
            'warning',
            'increase(dli_watcher_log_gaps_total{%(selector)s}[%(logGapWindow)s]) > 0' % c,
            'dli-watcher {{ $labels.instance }} missed batch log lines',
            'Log lines scrolled out of the 10-line window between two polls and could not be fetched from the log endpoint (see the batch.log_gap events for the batch and stream). Consider a shorter watch.interval_seconds. Clears after %(logGapWindow)s without new gaps.' % c,
          ),
          // Prometheus' own PrometheusBadConfig, for the watcher: the running config is the old one
          alert(
            'DLIWatcherConfigReloadFailed',
            'warning',
            'max_over_time(dli_watcher_config_last_reload_successful{%(selector)s}[5m]) == 0' % c,
            'dli-watcher {{ $labels.instance }} could not reload its configuration',
            'The last reload of dli-watcher {{ $labels.instance }} (SIGHUP or POST /-/reload) failed: it keeps running with the configuration it had. The watcher.reload_failed event names the key and the problem. Clears when a reload succeeds.',
            '10m',
          ),
        ],
      },
    ],
  },
}

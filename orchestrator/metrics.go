package orchestrator

import (
	"strings"
	"time"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/history"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the orchestrator's Prometheus series, on a registry of its
// own (no global state).
type metrics struct {
	reg         *prometheus.Registry
	invocations *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	stageExec   *prometheus.HistogramVec
	stageQueue  *prometheus.HistogramVec
	coldStarts  *prometheus.CounterVec
	pulls       *prometheus.HistogramVec
	pullBytes   *prometheus.HistogramVec
	workersLost prometheus.Counter
	chainWarmed prometheus.Counter
}

func newMetrics(router *Router, workers *Workers, hist *history.History) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_invocations_total", Help: "Workflow invocations by workflow and final status.",
		}, []string{"tenant", "workflow", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "baton_invocation_duration_seconds", Help: "End-to-end invocation latency.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"tenant", "workflow"}),
		stageExec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "baton_stage_exec_seconds", Help: "Function execution time per stage call, summed over a foreach.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"tenant", "workflow", "stage"}),
		stageQueue: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "baton_stage_queue_seconds", Help: "Time a stage waited for a sandbox.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"tenant", "workflow", "stage"}),
		coldStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_cold_starts_total", Help: "Stages that waited for a sandbox created for them.",
		}, []string{"tenant", "workflow", "stage"}),
		pulls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "baton_image_pull_seconds", Help: "Time a cold start waited for its image to be pulled from its registry (cold starts of images the worker had are not counted).",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}, []string{"tenant", "workflow", "stage"}),
		pullBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "baton_image_pull_bytes", Help: "Bytes fetched by the image pull a cold start waited for (cold starts that shared one pull each count it).",
			Buckets: prometheus.ExponentialBuckets(1<<20, 2, 14), // 1 MiB to 8 GiB
		}, []string{"tenant", "workflow", "stage"}),
		workersLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "baton_workers_lost_total", Help: "Workers declared dead after their heartbeats stopped.",
		}),
		chainWarmed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "baton_chain_warmed_sandboxes_total", Help: "Sandboxes started ahead of a workflow's downstream stages by chain warming.",
		}),
	}
	sandboxes := prometheus.NewDesc("baton_sandboxes", "Sandboxes by state (idle, busy, creating).", []string{"state"}, nil)
	queued := prometheus.NewDesc("baton_queued_requests", "Requests waiting for a sandbox.", nil, nil)
	live := prometheus.NewDesc("baton_workers", "Workers whose heartbeats are current.", nil, nil)
	strandedDesc := prometheus.NewDesc("baton_sandboxes_stranded",
		"Sandboxes that dead workers left running, until a worker starting on their machine removes them.", nil, nil)
	checks := prometheus.NewDesc("baton_sandbox_connection_checks_total",
		"Connections dialled to sandboxes and checked with their worker before carrying a request.", nil, nil)
	identity := prometheus.NewDesc("baton_sandbox_identity_failures_total",
		"Connections to a sandbox that ended somewhere else (something else answered at its address); each such sandbox was deleted.", nil, nil)
	unplaceable := prometheus.NewDesc("baton_unplaceable_demand",
		"Sandboxes a function's demand wants that no worker has room for now (its requests wait, within the queue's bounds); sum by tenant for a tenant's.",
		[]string{"tenant", "workflow", "function"}, nil)
	m.reg.MustRegister(m.invocations, m.latency, m.stageExec, m.stageQueue, m.coldStarts, m.pulls, m.pullBytes, m.workersLost, m.chainWarmed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectorFunc{descs: []*prometheus.Desc{sandboxes, queued, live, checks, identity, strandedDesc, unplaceable}, collect: func(ch chan<- prometheus.Metric) {
			var idle, busy, creating, waiting int
			for _, p := range router.PoolStates() {
				idle += len(p.Idle)
				busy += p.Busy
				creating += p.Creating
				waiting += p.Waiting
			}
			ch <- prometheus.MustNewConstMetric(sandboxes, prometheus.GaugeValue, float64(idle), "idle")
			ch <- prometheus.MustNewConstMetric(sandboxes, prometheus.GaugeValue, float64(busy), "busy")
			ch <- prometheus.MustNewConstMetric(sandboxes, prometheus.GaugeValue, float64(creating), "creating")
			ch <- prometheus.MustNewConstMetric(queued, prometheus.GaugeValue, float64(waiting))
			ch <- prometheus.MustNewConstMetric(live, prometheus.GaugeValue, float64(workers.Live(time.Now())))
			ch <- prometheus.MustNewConstMetric(checks, prometheus.CounterValue, float64(router.ConnectionChecks()))
			ch <- prometheus.MustNewConstMetric(identity, prometheus.CounterValue, float64(router.IdentityFailures()))
			ch <- prometheus.MustNewConstMetric(strandedDesc, prometheus.GaugeValue, float64(workers.Stranded()))
			for key, n := range router.Unplaceable() {
				tenant, rest, _ := strings.Cut(key, "/")
				wf, fn, _ := strings.Cut(rest, "/")
				ch <- prometheus.MustNewConstMetric(unplaceable, prometheus.GaugeValue, float64(n), tenant, wf, fn)
			}
		}})
	if hist != nil {
		pending := prometheus.NewDesc("baton_history_pending_records", "History records buffered, not yet in Postgres.", nil, nil)
		written := prometheus.NewDesc("baton_history_written_records_total", "History records written to Postgres.", nil, nil)
		dropped := prometheus.NewDesc("baton_history_dropped_records_total", "History records dropped because the buffer was full.", nil, nil)
		failures := prometheus.NewDesc("baton_history_write_failures_total", "Failed history batch writes (retried).", nil, nil)
		m.reg.MustRegister(collectorFunc{descs: []*prometheus.Desc{pending, written, dropped, failures}, collect: func(ch chan<- prometheus.Metric) {
			st := hist.Stats()
			ch <- prometheus.MustNewConstMetric(pending, prometheus.GaugeValue, float64(st.Pending))
			ch <- prometheus.MustNewConstMetric(written, prometheus.CounterValue, float64(st.Written))
			ch <- prometheus.MustNewConstMetric(dropped, prometheus.CounterValue, float64(st.Dropped))
			ch <- prometheus.MustNewConstMetric(failures, prometheus.CounterValue, float64(st.Failures))
		}})
	}
	return m
}

func (m *metrics) observe(inv *api.Invocation) {
	m.invocations.WithLabelValues(inv.Tenant, inv.Workflow, inv.Status).Inc()
	m.latency.WithLabelValues(inv.Tenant, inv.Workflow).Observe(inv.LatencyMs / 1000)
	for _, s := range inv.Stages {
		m.stageExec.WithLabelValues(inv.Tenant, inv.Workflow, s.Stage).Observe(s.ExecMs / 1000)
		m.stageQueue.WithLabelValues(inv.Tenant, inv.Workflow, s.Stage).Observe(s.QueuedMs / 1000)
		if s.Cold {
			m.coldStarts.WithLabelValues(inv.Tenant, inv.Workflow, s.Stage).Inc()
		}
		if s.ColdStart != nil && s.ColdStart.Pull > 0 {
			m.pulls.WithLabelValues(inv.Tenant, inv.Workflow, s.Stage).Observe(s.ColdStart.Pull.Seconds())
			m.pullBytes.WithLabelValues(inv.Tenant, inv.Workflow, s.Stage).Observe(float64(s.ColdStart.PullBytes))
		}
	}
}

// collectorFunc adapts a function to prometheus.Collector for gauges read
// from live state at scrape time.
type collectorFunc struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

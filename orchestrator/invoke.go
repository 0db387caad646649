package orchestrator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"time"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/worker"
	"baton.dev/baton/workflow"
)

// stageRecorder runs the engine's stage calls through the Router and adds
// up how each stage's calls were spent.
type stageRecorder struct {
	router       *Router
	prices       scheduler.Prices
	tenant, name string
	claims       *chainClaims // nil without chain warming
	mu           sync.Mutex
	stages       map[string]*api.StageTiming
}

// InvokeStage implements workflow.Invoker.
func (s *stageRecorder) InvokeStage(ctx context.Context, st *workflow.Stage, fn *workflow.Function, input []byte) ([]byte, error) {
	s.claims.stageStarted(st.Name)
	out, stats, err := s.router.Invoke(ctx, FunctionKey(s.tenant, s.name, fn.Name), input)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.stages[st.Name]
	if t == nil {
		t = &api.StageTiming{Stage: st.Name, Function: fn.Name}
		s.stages[st.Name] = t
	}
	t.Calls++
	t.QueuedMs += ms(stats.Queued)
	t.ExecMs += ms(stats.Exec)
	t.Sandbox, t.Worker = stats.SandboxID, stats.WorkerID
	if stats.SandboxID != "" {
		t.CPUMilli, t.Memory = stats.CPUMilli, stats.MemoryBytes
		t.Cost += s.prices.Cost(stats.CPUMilli, stats.MemoryBytes, stats.Exec)
	}
	if stats.Cold {
		t.Cold = true
		cs := stats.ColdStart
		t.ColdStart = &cs
	}
	return out, err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// execute runs one invocation of d to its end and returns the finished
// record and the error that failed it, if any. Nothing on this path writes to durable storage: the router,
// the engine and the record store are all in memory.
func (o *Orchestrator) execute(ctx context.Context, d *Deployment, inv *api.Invocation, input []byte) (*api.Invocation, error) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.InvocationTimeout)
	defer cancel()
	rec := &stageRecorder{router: o.router, prices: o.cfg.Prices, tenant: d.Tenant, name: d.Name, stages: map[string]*api.StageTiming{}}
	if o.chain != nil {
		rec.claims = o.chain.start(d)
	}
	res, err := workflow.Run(ctx, d.Workflow, input, rec)
	rec.claims.end()

	done := *inv
	done.Revision = d.Revision
	done.End = time.Now()
	done.LatencyMs = ms(done.End.Sub(done.Start))
	if res != nil {
		for _, run := range res.Stages {
			t := rec.stages[run.Stage]
			if t == nil {
				t = &api.StageTiming{Stage: run.Stage, Function: d.Workflow.Stage(run.Stage).Function}
			}
			t.Start, t.End, t.Attempts = run.Start, run.End, run.Attempts
			if run.Err != nil {
				t.Error = run.Err.Error()
			}
			if t.Cold {
				done.ColdStarts++
			}
			done.Cost += t.Cost
			done.Stages = append(done.Stages, *t)
		}
	}
	if err != nil {
		done.Status, done.Error = api.StatusFailed, err.Error()
		var se *workflow.StageError
		if errors.As(err, &se) {
			done.Stage = se.Stage
		}
	} else {
		done.Status, done.Output = api.StatusSucceeded, res.Output
	}
	sizes := &[2]int64{int64(len(input)), int64(len(done.Output))} // one allocation for both
	done.InputBytes, done.OutputBytes = &sizes[0], &sizes[1]
	if o.chain != nil {
		o.chain.observe(d, done.Stages)
	}
	o.invocations.Put(&done)
	o.metrics.observe(&done)
	if o.cfg.History != nil {
		o.cfg.History.Add(historyRecords(d, &done)...) // buffered; never waits
	}
	return &done, err
}

// historyRecords turns a finished invocation into history rows.
func historyRecords(d *Deployment, inv *api.Invocation) []history.Record {
	row := history.Invocation{
		ID: inv.ID, Tenant: inv.Tenant, Workflow: inv.Workflow, Revision: inv.Revision, Async: inv.Async,
		Status: inv.Status, Error: inv.Error, FailedStage: inv.Stage, Start: inv.Start, End: inv.End,
		LatencyMs: inv.LatencyMs, ColdStarts: inv.ColdStarts, Cost: inv.Cost,
		InputBytes: inv.InputBytes, OutputBytes: inv.OutputBytes,
	}
	if q := d.Workflow.Spec.QoS; q.Latency > 0 {
		row.QoSLatencyMs, row.QoSPercentile = ms(q.Latency), q.Percentile
	}
	recs := []history.Record{row}
	for _, s := range inv.Stages {
		recs = append(recs, history.StageRun{
			InvocationID: inv.ID, Stage: s.Stage, Tenant: inv.Tenant, Workflow: inv.Workflow, Function: s.Function,
			Sandbox: s.Sandbox, Worker: s.Worker, Start: s.Start, End: s.End, Calls: s.Calls, Attempts: s.Attempts,
			QueuedMs: s.QueuedMs, ExecMs: s.ExecMs, Cold: s.Cold, CPUMilli: s.CPUMilli, MemoryBytes: s.Memory,
			Cost: s.Cost, Error: s.Error,
		})
	}
	return recs
}

// failureStatus maps an invocation's error to an HTTP status.
func failureStatus(err error) int {
	var fe *FunctionError
	var qe *QuotaError
	switch {
	case errors.As(err, &qe):
		return http.StatusTooManyRequests
	case errors.As(err, new(*OverloadError)):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, decide.ErrNoCapacity):
		return http.StatusServiceUnavailable
	case errors.As(err, &fe), errors.Is(err, worker.ErrUnhealthy), errors.Is(err, worker.ErrImageNotFound), errors.Is(err, worker.ErrIdentity), errors.Is(err, worker.ErrPull):
		return http.StatusBadGateway
	default:
		return http.StatusInternalServerError
	}
}

func newInvocationID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return "inv-" + hex.EncodeToString(b[:])
}

package prewarm

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Timed is implemented by planners whose decisions use the function's
// measured times; live, they are told when the measurements move.
type Timed interface {
	SetTimes(coldStart, meanDuration time.Duration)
}

// QoSSettable is implemented by planners that take new QoS settings
// (Live.SetQoS) without starting again; Live makes the others again.
type QoSSettable interface {
	SetQoS(q *FunctionQoS)
}

// Stats is what the orchestrator knows of a function's pool when it asks
// for a decision.
type Stats struct {
	// Arrivals counts the requests since the pool was made (monotone).
	Arrivals uint64
	// ColdStart and MeanExec are the pool's measured moving averages (zero
	// until measured).
	ColdStart time.Duration
	MeanExec  time.Duration
}

// LiveOptions configure Live.
type LiveOptions struct {
	// Interval is the planning interval (default 10 s: live traffic is
	// planned at a finer grain than the minute of the traces).
	Interval time.Duration
	// Epoch is where interval 0 starts (default: the first decision).
	Epoch time.Time
	// ColdStart and MeanExec stand in until a pool has measured its own
	// (defaults 1 s and 100 ms).
	ColdStart, MeanExec time.Duration
}

// Live drives a PrewarmPolicy from live traffic with the same Planner
// contract as the simulator: each function's arrivals are counted per
// interval and shown to its planner when the interval ends; interval i is
// planned the planner's Lead before it starts, and from then until it starts
// both decisions hold (the larger floor and keep-alive). A function's
// planner counts intervals from the one it was first seen in (so its
// time-of-day features are relative to that). Decide is called by the
// autoscaler on every tick and is safe for concurrent use.
type Live struct {
	policy PrewarmPolicy
	opts   LiveOptions

	mu        sync.Mutex
	fns       map[string]*liveFunction
	qos       map[string]*FunctionQoS // by function, see SetQoS; never changed in place
	decisions int
	spent     time.Duration
}

type liveFunction struct {
	planner Planner
	lead    time.Duration
	times   [2]time.Duration // cold start and mean exec the planner was told
	qos     *FunctionQoS     // the QoS settings the planner was made with
	first   int              // the interval the function was first seen in: the planner's interval 0
	cur     int              // the interval in force
	base    uint64           // arrivals counted when cur started
	now     Decision         // cur's decision
	next    *Decision        // cur+1's decision, once planned
}

// NewLive returns a Live over policy. The oracle is refused: it reads the
// future, which only the simulator has.
func NewLive(policy PrewarmPolicy, opts LiveOptions) (*Live, error) {
	if _, ok := policy.(Oracle); ok {
		return nil, errors.New("pre-warm policy oracle knows the future: it runs in simulation only")
	}
	if opts.Interval < 0 || opts.ColdStart < 0 || opts.MeanExec < 0 {
		return nil, fmt.Errorf("live pre-warming: interval %v, cold start %v, mean exec %v: want durations ≥ 0", opts.Interval, opts.ColdStart, opts.MeanExec)
	}
	if opts.Interval == 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.ColdStart == 0 {
		opts.ColdStart = time.Second
	}
	if opts.MeanExec == 0 {
		opts.MeanExec = 100 * time.Millisecond
	}
	return &Live{policy: policy, opts: opts, fns: map[string]*liveFunction{}, qos: map[string]*FunctionQoS{}}, nil
}

// SetQoS sets function's pre-warm settings under its workflow's QoS
// (PlanQoS; nil: none), which QoS-aware policies (aquatope-qos) plan it
// with. At the function's next decision a planner made with other
// settings takes them (QoSSettable), keeping what it has learnt; one that
// cannot, or whose settings are taken away, is made again, its intervals
// counted afresh.
func (l *Live) SetQoS(function string, q *FunctionQoS) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if q == nil {
		delete(l.qos, function)
		return
	}
	c := *q
	l.qos[function] = &c
}

// Forget drops function's planner and settings: its workflow has been
// removed. A function of that name deployed again starts afresh.
func (l *Live) Forget(function string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fns, function)
	delete(l.qos, function)
}

// Policy returns the policy Live drives.
func (l *Live) Policy() PrewarmPolicy { return l.policy }

// Decide returns the decision in force for function at now, after showing
// its planner every interval that ended since the last call.
func (l *Live) Decide(function string, now time.Time, st Stats) (Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	began := time.Now()
	defer func() { l.decisions++; l.spent += time.Since(began) }()
	if l.opts.Epoch.IsZero() {
		l.opts.Epoch = now
	}
	idx := l.index(now)
	times := l.times(st)
	qos := l.qos[function]
	f := l.fns[function]
	if f != nil && !sameQoS(f.qos, qos) {
		if t, ok := f.planner.(QoSSettable); ok && qos != nil {
			t.SetQoS(qos)
			f.qos = qos
		} else {
			f = nil
		}
	}
	if f == nil {
		pl, err := l.policy.NewPlanner(Function{Name: function, ColdStart: times[0], MeanDuration: times[1], Interval: l.opts.Interval, QoS: qos})
		if err != nil {
			return Decision{}, err
		}
		f = &liveFunction{planner: pl, lead: min(max(pl.Lead(), 0), l.opts.Interval-time.Millisecond), times: times, qos: qos, first: idx, cur: idx, base: st.Arrivals}
		f.now = pl.Plan(0)
		l.fns[function] = f
	}
	if t, ok := f.planner.(Timed); ok && times != f.times {
		t.SetTimes(times[0], times[1])
		f.times = times
		f.lead = min(max(f.planner.Lead(), 0), l.opts.Interval-time.Millisecond)
	}
	if st.Arrivals < f.base {
		f.base = 0 // the pool was made again (redeployed): its count restarted
	}
	for f.cur < idx {
		// The arrivals since the last boundary all belong to the interval
		// that ended (the autoscaler asks every tick, so none is skipped
		// with arrivals in it).
		f.planner.Observe(f.cur-f.first, int(st.Arrivals-f.base))
		f.base = st.Arrivals
		f.cur++
		if f.next != nil {
			f.now, f.next = *f.next, nil
		} else {
			f.now = f.planner.Plan(f.cur - f.first)
		}
	}
	start := l.opts.Epoch.Add(time.Duration(f.cur+1) * l.opts.Interval)
	if f.next == nil && f.lead > 0 && !now.Before(start.Add(-f.lead)) {
		d := f.planner.Plan(f.cur + 1 - f.first)
		f.next = &d
	}
	d := f.now
	if f.next != nil {
		d.Floor = max(d.Floor, f.next.Floor)
		d.KeepAlive = max(d.KeepAlive, f.next.KeepAlive)
	}
	return d, nil
}

// Spent returns how many decisions Live has made and the time they took.
func (l *Live) Spent() (decisions int, spent time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.decisions, l.spent
}

// index is the interval that contains now.
func (l *Live) index(now time.Time) int {
	d := now.Sub(l.opts.Epoch)
	if d < 0 {
		return 0
	}
	return int(d / l.opts.Interval)
}

// times are a pool's measured times, or the stand-ins until measured.
func (l *Live) times(st Stats) [2]time.Duration {
	out := [2]time.Duration{st.ColdStart, st.MeanExec}
	if out[0] <= 0 {
		out[0] = l.opts.ColdStart
	}
	if out[1] <= 0 {
		out[1] = l.opts.MeanExec
	}
	return out
}

// sameQoS reports whether a and b are the same settings (or both none).
func sameQoS(a, b *FunctionQoS) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

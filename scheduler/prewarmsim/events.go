package prewarmsim

// eventKind says what an event does.
type eventKind uint8

const (
	// evReady: sandbox a of pool finished starting.
	evReady eventKind = iota
	// evFinish: sandbox a of pool finished its request.
	evFinish
	// evCheck: the autoscaler looks at pool (if the check is still due).
	evCheck
	// evDecide: the pool's planner plans interval a, its lead before the
	// interval starts.
	evDecide
	// evBoundary: interval a of pool starts.
	evBoundary
	// evChainWarm: stage st of invocation inv wants a sandboxes of pool
	// warm now.
	evChainWarm
)

// event is one scheduled event; seq breaks ties in scheduling order.
type event struct {
	t    float64
	seq  uint64
	kind eventKind
	pool int32
	a    int32
	inv  int32 // evChainWarm only
	st   int16 // evChainWarm only
}

// eventHeap is a 4-ary min-heap of events by (t, seq), without the
// interface boxing of container/heap: half the levels of a binary heap,
// and a node's children share a cache line or two. (t, seq) is a total
// order, so events come out in the same order whatever the heap's arity.
type eventHeap struct {
	items []event
	seq   uint64
}

func (h *eventHeap) less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	if a.t != b.t {
		return a.t < b.t
	}
	return a.seq < b.seq
}

func (h *eventHeap) push(e event) {
	h.seq++
	e.seq = h.seq
	h.items = append(h.items, e)
	i := len(h.items) - 1
	for i > 0 {
		parent := (i - 1) / 4
		if !h.less(i, parent) {
			break
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

func (h *eventHeap) len() int { return len(h.items) }

func (h *eventHeap) peek() *event { return &h.items[0] }

func (h *eventHeap) pop() event {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	i := 0
	for {
		m := i
		for c := 4*i + 1; c <= 4*i+4 && c < last; c++ {
			if h.less(c, m) {
				m = c
			}
		}
		if m == i {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return top
}

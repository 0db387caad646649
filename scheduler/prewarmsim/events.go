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
// Its fields are ordered to pack it in 32 bytes.
type event struct {
	t    float64
	seq  uint64
	pool int32
	a    int32
	inv  int32 // evChainWarm only
	st   int16 // evChainWarm only
	kind eventKind
}

// before orders events by (t, seq).
func (e *event) before(o *event) bool {
	if e.t != o.t {
		return e.t < o.t
	}
	return e.seq < o.seq
}

// eventHeap is a 4-ary min-heap of events by (t, seq), without the
// interface boxing of container/heap: half the levels of a binary heap,
// and a node's children share a cache line or two. (t, seq) is a total
// order, so events come out in the same order whatever the heap's arity
// or the way it sifts.
type eventHeap struct {
	items []event
	seq   uint64
}

// push adds e, moving the hole up from the bottom to its place.
func (h *eventHeap) push(e event) {
	h.seq++
	e.seq = h.seq
	h.items = append(h.items, e)
	items := h.items
	i := len(items) - 1
	for i > 0 {
		parent := (i - 1) / 4
		if !e.before(&items[parent]) {
			break
		}
		items[i] = items[parent]
		i = parent
	}
	items[i] = e
}

func (h *eventHeap) len() int { return len(h.items) }

func (h *eventHeap) peek() *event { return &h.items[0] }

// pop removes and returns the earliest event. It sifts bottom-up: the
// hole left at the root goes down along the earliest children to a leaf,
// then the last event, which mostly belongs near the bottom (events are
// pushed later than those due), moves up from there to its place; about
// half the comparisons of sifting the last event down from the root.
func (h *eventHeap) pop() event {
	items := h.items
	top := items[0]
	last := len(items) - 1
	x := items[last]
	items = items[:last]
	h.items = items
	if last == 0 {
		return top
	}
	i := 0
	for {
		c := 4*i + 1
		if c >= last {
			break
		}
		m := c
		for j := c + 1; j < c+4 && j < last; j++ {
			if items[j].before(&items[m]) {
				m = j
			}
		}
		items[i] = items[m]
		i = m
	}
	for i > 0 {
		parent := (i - 1) / 4
		if !x.before(&items[parent]) {
			break
		}
		items[i] = items[parent]
		i = parent
	}
	items[i] = x
	return top
}

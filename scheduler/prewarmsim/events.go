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
	t   float64
	seq uint64
	eventBody
}

// eventBody is what an event does, apart from when.
type eventBody struct {
	pool int32
	a    int32
	inv  int32 // evChainWarm only
	st   int16 // evChainWarm only
	kind eventKind
}

// eventKey is when an event is due: (t, seq) orders events.
type eventKey struct {
	t   float64
	seq uint64
}

func (k *eventKey) before(o *eventKey) bool {
	if k.t != o.t {
		return k.t < o.t
	}
	return k.seq < o.seq
}

// eventHeap is a 4-ary min-heap of events by (t, seq), without the
// interface boxing of container/heap: half the levels of a binary heap.
// Keys and bodies are kept apart so that a node's four children's keys,
// all a sift compares, share a cache line. (t, seq) is a total order, so
// events come out in the same order whatever the heap's arity or the way
// it sifts.
//
// The earliest event, when it was pushed as such, is held apart, in front
// of the heap: it is popped without a sift. An event is mostly scheduled
// to be the next one in a pool with little going on (a request's end when
// no other is running; under no pre-warming, the autoscaler's look at the
// sandbox just freed), and then costs neither a sift up nor one down.
type eventHeap struct {
	keys   []eventKey
	bodies []eventBody
	seq    uint64
	// front, when hasFront, is the earliest event, before all of keys.
	front    event
	hasFront bool
}

// push adds the event b due at t: in front when it is the earliest, else
// into the heap.
func (h *eventHeap) push(t float64, b eventBody) {
	h.seq++
	key := eventKey{t: t, seq: h.seq}
	switch {
	case !h.hasFront && (len(h.keys) == 0 || key.before(&h.keys[0])):
		h.front, h.hasFront = event{t: t, seq: key.seq, eventBody: b}, true
		return
	case h.hasFront && key.before(&eventKey{t: h.front.t, seq: h.front.seq}):
		old := h.front
		h.front = event{t: t, seq: key.seq, eventBody: b}
		key, b = eventKey{t: old.t, seq: old.seq}, old.eventBody
	}
	h.siftUp(key, b)
}

// siftUp adds the event b keyed key to the heap, moving the hole up from
// the bottom to its place.
func (h *eventHeap) siftUp(key eventKey, b eventBody) {
	h.keys = append(h.keys, key)
	h.bodies = append(h.bodies, b)
	keys, bodies := h.keys, h.bodies
	i := len(keys) - 1
	for i > 0 {
		parent := (i - 1) / 4
		if !key.before(&keys[parent]) {
			break
		}
		keys[i], bodies[i] = keys[parent], bodies[parent]
		i = parent
	}
	keys[i], bodies[i] = key, b
}

func (h *eventHeap) len() int {
	if h.hasFront {
		return len(h.keys) + 1
	}
	return len(h.keys)
}

// peekTime is when the earliest event is due.
func (h *eventHeap) peekTime() float64 {
	if h.hasFront {
		return h.front.t
	}
	return h.keys[0].t
}

// pop removes and returns the earliest event. It sifts bottom-up: the
// hole left at the root goes down along the earliest children to a leaf,
// then the last event, which mostly belongs near the bottom (events are
// pushed later than those due), moves up from there to its place; about
// half the comparisons of sifting the last event down from the root.
func (h *eventHeap) pop() event {
	if h.hasFront {
		h.hasFront = false
		return h.front
	}
	keys, bodies := h.keys, h.bodies
	top := event{t: keys[0].t, seq: keys[0].seq, eventBody: bodies[0]}
	last := len(keys) - 1
	xk, xb := keys[last], bodies[last]
	keys, bodies = keys[:last], bodies[:last]
	h.keys, h.bodies = keys, bodies
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
			if keys[j].before(&keys[m]) {
				m = j
			}
		}
		keys[i], bodies[i] = keys[m], bodies[m]
		i = m
	}
	for i > 0 {
		parent := (i - 1) / 4
		if !xk.before(&keys[parent]) {
			break
		}
		keys[i], bodies[i] = keys[parent], bodies[parent]
		i = parent
	}
	keys[i], bodies[i] = xk, xb
	return top
}

package trace

// Stream is a trace whose invocations are produced on demand, one function
// at a time and, inside a function, a minute at a time, so that holding it
// costs memory in proportion to its functions and minutes, not to its
// invocations. Its methods are safe for concurrent use.
type Stream interface {
	// Source says where the trace came from, for reports.
	Source() string
	// Minutes is the trace's length.
	Minutes() int
	// Len is the number of functions.
	Len() int
	// Function returns function i (0 … Len−1) without its invocations
	// (Invocations is nil) and its number of invocations.
	Function(i int) (Function, int)
	// Arrivals returns function i's invocations, in start order, from the
	// start: every call gives the same invocations.
	Arrivals(i int) Arrivals
}

// Arrivals produces one function's invocations a minute at a time.
type Arrivals interface {
	// Next appends the invocations of the next minute to buf[:0] and
	// returns them (none for a minute without); ok is false once the
	// trace's minutes are over. Their starts are sorted, and no earlier
	// than those of the minutes before.
	Next(buf []Invocation) (invs []Invocation, ok bool)
}

// Stream returns t as a Stream over its invocations in memory.
func (t *Trace) Stream() Stream { return memStream{t} }

// memStream is a Trace held in memory.
type memStream struct{ t *Trace }

func (s memStream) Source() string { return s.t.Source }
func (s memStream) Minutes() int   { return s.t.Minutes }
func (s memStream) Len() int       { return len(s.t.Functions) }

func (s memStream) Function(i int) (Function, int) {
	f := s.t.Functions[i]
	n := len(f.Invocations)
	f.Invocations = nil
	return f, n
}

func (s memStream) Arrivals(i int) Arrivals {
	return &sliceArrivals{invs: s.t.Functions[i].Invocations, minutes: s.t.Minutes}
}

// sliceArrivals hands out a sorted slice minute by minute.
type sliceArrivals struct {
	invs    []Invocation
	minutes int
	minute  int
}

func (a *sliceArrivals) Next(buf []Invocation) ([]Invocation, bool) {
	if a.minute >= a.minutes {
		return buf[:0], false
	}
	a.minute++
	end := float64(a.minute) * 60
	n := 0
	if a.minute == a.minutes {
		n = len(a.invs) // the last minute takes any stragglers
	}
	for n < len(a.invs) && a.invs[n].Start < end {
		n++
	}
	out := append(buf[:0], a.invs[:n]...)
	a.invs = a.invs[n:]
	return out, true
}

// Collect reads every invocation of s into a Trace.
func Collect(s Stream) *Trace {
	t := &Trace{Source: s.Source(), Minutes: s.Minutes(), Functions: make([]Function, s.Len())}
	for i := range t.Functions {
		f, n := s.Function(i)
		f.Invocations = make([]Invocation, 0, n)
		a := s.Arrivals(i)
		var buf []Invocation
		for {
			var ok bool
			if buf, ok = a.Next(buf); !ok {
				break
			}
			f.Invocations = append(f.Invocations, buf...)
		}
		t.Functions[i] = f
	}
	return t
}

// Open opens the trace at path as a Stream: the Azure 2019 trace is read
// into per-minute counts and expanded into invocations a minute at a time
// (the invocations ReadAzure2019 gives); the Azure 2021 trace, one row per
// invocation, is read into memory whole (Read, then Trace.Stream).
func Open(path string, opts ReadOptions) (Stream, error) {
	if IsAzure2019(path) {
		return OpenAzure2019(path, opts)
	}
	t, err := Read(path, opts)
	if err != nil {
		return nil, err
	}
	return t.Stream(), nil
}

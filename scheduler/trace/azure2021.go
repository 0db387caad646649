package trace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// azure2021Columns are the columns of the Azure Functions 2021 trace.
var azure2021Columns = []string{"app", "func", "end_timestamp", "duration"}

// FindAzure2021 returns the file of dir (*.txt or *.csv) whose header is
// the Azure Functions 2021 format, or "" when there is none.
func FindAzure2021(dir string) string {
	var files []string
	for _, pat := range []string{"*.txt", "*.csv"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	sort.Strings(files)
	for _, path := range files {
		if tb, err := openTable(path, azure2021Columns...); err == nil {
			tb.close()
			return path
		}
	}
	return ""
}

// ReadAzure2021 reads the Azure Functions 2021 per-invocation trace at path
// (columns app, func, end_timestamp, duration; timestamps and durations in
// seconds, the timestamp counted from the trace's start). An invocation
// starts at end_timestamp − duration (at 0 if that is negative). The trace
// has no memory figures: every function gets DefaultMemoryMB and its cold
// start from ColdStartFor.
func ReadAzure2021(path string, opts ReadOptions) (*Trace, error) {
	byName := map[string]*Function{}
	var last float64
	limit := math.Inf(1)
	if opts.Minutes > 0 {
		limit = float64(opts.Minutes) * 60
	}
	err := eachRecord(path, azure2021Columns, func(tb *table, rec []string) error {
		end, err := tb.float(rec, "end_timestamp")
		if err != nil {
			return err
		}
		d, err := tb.float(rec, "duration")
		if err != nil {
			return err
		}
		if d < 0 {
			line, _ := tb.r.FieldPos(tb.columns["duration"])
			return fmt.Errorf("%s:%d: column duration: %v is negative", path, line, d)
		}
		start := math.Max(end-d, 0)
		if start >= limit {
			return nil
		}
		app, fn := tb.field(rec, "app"), tb.field(rec, "func")
		name := app + "/" + fn
		f, ok := byName[name]
		if !ok {
			f = &Function{Name: name, App: app, MemoryMB: DefaultMemoryMB, ColdStart: ColdStartFor(DefaultMemoryMB)}
			byName[name] = f
		}
		f.Invocations = append(f.Invocations, Invocation{Start: start, Duration: float32(d)})
		last = math.Max(last, start)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(byName) == 0 {
		return nil, fmt.Errorf("%s: no invocations", path)
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	if opts.Functions > 0 && opts.Functions < len(names) {
		rng := rand.New(rand.NewPCG(opts.Seed, 2021))
		rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		names = names[:opts.Functions]
		sort.Strings(names)
	}
	minutes := int(last/60) + 1
	if opts.Minutes > 0 {
		minutes = opts.Minutes
	}
	t := &Trace{Source: "azure-2021 " + path, Minutes: minutes}
	for _, n := range names {
		f := byName[n]
		sortInvocations(f.Invocations)
		t.Functions = append(t.Functions, *f)
	}
	return t, nil
}

// Read reads the trace in dir, Azure 2019 (the three CSV families) or Azure
// 2021 (a file with the app, func, end_timestamp, duration header); path may
// also name the 2021 file itself.
func Read(path string, opts ReadOptions) (*Trace, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	if !st.IsDir() {
		return ReadAzure2021(path, opts)
	}
	if IsAzure2019(path) {
		return ReadAzure2019(path, opts)
	}
	if f := FindAzure2021(path); f != "" {
		return ReadAzure2021(f, opts)
	}
	return nil, fmt.Errorf("trace %s: neither the Azure 2019 files (%s, %s, %s) nor an Azure 2021 file (header %s)",
		path, azure2019Invocations, azure2019Durations, azure2019Memory, strings.Join(azure2021Columns, ","))
}

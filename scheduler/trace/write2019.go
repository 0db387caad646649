package trace

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WriteSummary sizes a written trace.
type WriteSummary struct {
	Functions   int   `json:"functions"`
	Days        int   `json:"days"`
	Invocations int64 `json:"invocations"`
	// Busiest is the largest number of invocations of one function, and
	// BusiestMinute the largest of one function in one minute.
	Busiest       int64 `json:"busiest"`
	BusiestMinute int32 `json:"busiestMinute"`
}

// memoryPercentiles are the percentile columns of the 2019 memory file.
var memoryPercentiles = []string{"1", "5", "25", "50", "75", "95", "99", "100"}

// WriteAzure2019 writes n functions, fn(0) … fn(n−1), over minutes minutes
// as the Azure Functions 2019 trace into dir (created if need be): per day
// dDD, invocations_per_function_md.anon.dDD.csv,
// function_durations_percentiles.anon.dDD.csv and
// app_memory_percentiles.anon.dDD.csv, in the columns of the public trace.
// A last partial day is padded with zero counts. A function's durations
// are written with its count as Count; an app's memory (its first
// function's) with every percentile equal to the average. fn is called
// once per function, in order, so only one function is held at a time.
func WriteAzure2019(dir string, minutes, n int, fn func(i int) CountedFunction) (sum WriteSummary, err error) {
	if minutes <= 0 || n <= 0 {
		return sum, fmt.Errorf("write azure 2019 trace: minutes %d, functions %d: want both > 0", minutes, n)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sum, fmt.Errorf("write azure 2019 trace: %w", err)
	}
	days := (minutes + 1439) / 1440
	type dayFiles struct{ counts, durations, memory *csvOut }
	files := make([]dayFiles, days)
	var all []*csvOut
	defer func() {
		for _, f := range all {
			err = errors.Join(err, f.close())
		}
	}()
	for d := range files {
		for _, spec := range []struct {
			out    **csvOut
			base   string
			header []string
		}{
			{&files[d].counts, azure2019Invocations, countHeader()},
			{&files[d].durations, azure2019Durations, durationHeader()},
			{&files[d].memory, azure2019Memory, memoryHeader()},
		} {
			path := filepath.Join(dir, strings.Replace(spec.base, "d*", fmt.Sprintf("d%02d", d+1), 1))
			f, err := createCSV(path, spec.header)
			if err != nil {
				return sum, err
			}
			*spec.out = f
			all = append(all, f)
		}
	}
	apps := map[string]bool{}
	sum.Functions, sum.Days = n, days
	for i := range n {
		f := fn(i)
		if len(f.Counts) != minutes {
			return sum, fmt.Errorf("write azure 2019 trace: function %d has %d minutes of counts, want %d", i, len(f.Counts), minutes)
		}
		var total int64
		for _, c := range f.Counts {
			total += int64(c)
			sum.BusiestMinute = max(sum.BusiestMinute, c)
		}
		sum.Invocations += total
		sum.Busiest = max(sum.Busiest, total)
		newApp := !apps[f.Owner+"/"+f.App]
		apps[f.Owner+"/"+f.App] = true
		for d, day := range files {
			w := day.counts
			w.fields(f.Owner, f.App, f.Function, f.Trigger)
			for m := d * 1440; m < (d+1)*1440; m++ {
				c := int32(0)
				if m < minutes {
					c = f.Counts[m]
				}
				w.int(int64(c))
			}
			w.end()
			w = day.durations
			w.fields(f.Owner, f.App, f.Function)
			w.float(durationQuantiles(f.DurationMs[:]).mean())
			w.int(total)
			w.float(f.DurationMs[0])
			w.float(f.DurationMs[len(f.DurationMs)-1])
			for _, ms := range f.DurationMs {
				w.float(ms)
			}
			w.end()
			if newApp {
				w = day.memory
				w.fields(f.Owner, f.App)
				w.int(total)
				for range 1 + len(memoryPercentiles) {
					w.float(f.MemoryMB)
				}
				w.end()
			}
		}
	}
	return sum, nil
}

func countHeader() []string {
	h := []string{"HashOwner", "HashApp", "HashFunction", "Trigger"}
	for m := 1; m <= 1440; m++ {
		h = append(h, strconv.Itoa(m))
	}
	return h
}

func durationHeader() []string {
	h := []string{"HashOwner", "HashApp", "HashFunction", "Average", "Count", "Minimum", "Maximum"}
	for _, p := range durationPercentiles {
		h = append(h, p.column)
	}
	return h
}

func memoryHeader() []string {
	h := []string{"HashOwner", "HashApp", "SampleCount", "AverageAllocatedMb"}
	for _, p := range memoryPercentiles {
		h = append(h, "AverageAllocatedMb_pct"+p)
	}
	return h
}

// csvOut writes a CSV file of plain fields (no quoting: the trace's
// fields are hashes, names and numbers).
type csvOut struct {
	path  string
	file  *os.File
	w     *bufio.Writer
	buf   []byte
	first bool
}

func createCSV(path string, header []string) (*csvOut, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("write azure 2019 trace: %w", err)
	}
	c := &csvOut{path: path, file: f, w: bufio.NewWriterSize(f, 1<<20), first: true}
	c.fields(header...)
	c.end()
	return c, nil
}

func (c *csvOut) sep() {
	if !c.first {
		c.buf = append(c.buf, ',')
	}
	c.first = false
}

func (c *csvOut) fields(fs ...string) {
	for _, f := range fs {
		c.sep()
		c.buf = append(c.buf, f...)
	}
}

func (c *csvOut) int(v int64) {
	c.sep()
	c.buf = strconv.AppendInt(c.buf, v, 10)
}

func (c *csvOut) float(v float64) {
	c.sep()
	c.buf = strconv.AppendFloat(c.buf, v, 'f', -1, 64)
}

// end ends the record.
func (c *csvOut) end() {
	c.buf = append(c.buf, '\n')
	c.w.Write(c.buf) // a write error stays in w and comes back from Flush
	c.buf, c.first = c.buf[:0], true
}

func (c *csvOut) close() error {
	err := c.w.Flush()
	if cerr := c.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	return nil
}

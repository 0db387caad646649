package trace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func countsOf(t *Trace, name string) []int {
	for i := range t.Functions {
		if t.Functions[i].Name == name {
			return t.Functions[i].Counts(t.Minutes)
		}
	}
	return nil
}

func nonZero(c []int) map[int]int {
	out := map[int]int{}
	for m, n := range c {
		if n > 0 {
			out[m] = n
		}
	}
	return out
}

func TestReadAzure2019(t *testing.T) {
	tests := []struct {
		name      string
		opts      ReadOptions
		minutes   int
		functions int
		want      map[string]map[int]int // function -> minute -> count
	}{
		{"two days", ReadOptions{}, 2880, 3, map[string]map[int]int{
			"o1/a1/f1": {0: 3, 1: 1, 1439: 2, 1440: 4},
			"o1/a1/f2": {4: 1, 9: 1},
			"o2/a2/f3": {1499: 5},
		}},
		{"first day only", ReadOptions{Minutes: 1440}, 1440, 3, map[string]map[int]int{
			"o1/a1/f1": {0: 3, 1: 1, 1439: 2},
			"o2/a2/f3": {},
		}},
		{"first minutes", ReadOptions{Minutes: 5}, 5, 3, map[string]map[int]int{
			"o1/a1/f1": {0: 3, 1: 1},
			"o1/a1/f2": {4: 1},
		}},
		{"sample", ReadOptions{Functions: 2, Seed: 3}, 2880, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := ReadAzure2019("testdata/azure2019", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Minutes != tt.minutes || len(tr.Functions) != tt.functions {
				t.Fatalf("minutes %d functions %d, want %d and %d", tr.Minutes, len(tr.Functions), tt.minutes, tt.functions)
			}
			for name, want := range tt.want {
				got := nonZero(countsOf(tr, name))
				if len(got) != len(want) {
					t.Errorf("%s: counts %v, want %v", name, got, want)
				}
				for m, n := range want {
					if got[m] != n {
						t.Errorf("%s minute %d: %d invocations, want %d", name, m, got[m], n)
					}
				}
			}
		})
	}
}

func TestAzure2019FunctionFields(t *testing.T) {
	tr, err := ReadAzure2019("testdata/azure2019", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		trigger      string
		memory       float64
		minMs, maxMs float64
	}{
		{"o1/a1/f1", "http", 512, 100, 200},
		{"o1/a1/f2", "timer", 512, 2000, 2000},
		{"o2/a2/f3", "queue", DefaultMemoryMB, 1000, 1000}, // no durations, no memory: defaults
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f *Function
			for i := range tr.Functions {
				if tr.Functions[i].Name == tt.name {
					f = &tr.Functions[i]
				}
			}
			if f == nil {
				t.Fatalf("function %s missing", tt.name)
			}
			if f.Trigger != tt.trigger || f.MemoryMB != tt.memory || f.ColdStart != ColdStartFor(tt.memory) {
				t.Errorf("trigger %q memory %v cold start %v, want %q %v %v", f.Trigger, f.MemoryMB, f.ColdStart, tt.trigger, tt.memory, ColdStartFor(tt.memory))
			}
			for k, inv := range f.Invocations {
				ms := float64(inv.Duration) * 1000
				if ms < tt.minMs-1e-3 || ms > tt.maxMs+1e-3 {
					t.Errorf("duration %.3f ms outside [%v, %v]", ms, tt.minMs, tt.maxMs)
				}
				if k > 0 && inv.Start < f.Invocations[k-1].Start {
					t.Errorf("invocations not sorted at %d", k)
				}
			}
		})
	}
}

func TestReadAzure2021(t *testing.T) {
	tr, err := Read("testdata/azure2021", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]Invocation{
		"appA/fx": {{Start: 5, Duration: 0.25}, {Start: 10, Duration: 0.5}},
		"appA/fz": {{Start: 0, Duration: 0.3}}, // would start before the trace: clamped to 0
		"appB/fy": {{Start: 128, Duration: 2}},
	}
	if len(tr.Functions) != len(want) || tr.Minutes != 3 {
		t.Fatalf("%d functions over %d minutes, want %d over 3", len(tr.Functions), tr.Minutes, len(want))
	}
	for _, f := range tr.Functions {
		w := want[f.Name]
		if len(f.Invocations) != len(w) {
			t.Fatalf("%s: %v, want %v", f.Name, f.Invocations, w)
		}
		for i := range w {
			if f.Invocations[i] != w[i] {
				t.Errorf("%s[%d] = %v, want %v", f.Name, i, f.Invocations[i], w[i])
			}
		}
	}
}

func TestReadErrors(t *testing.T) {
	header2019 := "HashOwner,HashApp,HashFunction,Trigger,1,2\n"
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{"empty dir", map[string]string{}, "neither"},
		{"missing column", map[string]string{"invocations_per_function_md.anon.d01.csv": "HashOwner,HashApp,Trigger,1\n"}, `no column "HashFunction"`},
		{"bad count", map[string]string{"invocations_per_function_md.anon.d01.csv": header2019 + "o,a,f,http,1,x\n"}, `minute 2: "x"`},
		{"negative count", map[string]string{"invocations_per_function_md.anon.d01.csv": header2019 + "o,a,f,http,-1,0\n"}, "minute 1"},
		{"short row", map[string]string{"invocations_per_function_md.anon.d01.csv": header2019 + "o,a,f,http,1\n"}, "5 fields, want 6"},
		{"2021 bad duration", map[string]string{"t.txt": "app,func,end_timestamp,duration\na,f,1,abc\n"}, `column duration: "abc"`},
		{"2021 negative duration", map[string]string{"t.txt": "app,func,end_timestamp,duration\na,f,1,-2\n"}, "negative"},
		{"2021 no rows", map[string]string{"t.txt": "app,func,end_timestamp,duration\n"}, "no invocations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Read(dir, ReadOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestColdStartFor(t *testing.T) {
	tests := []struct {
		mb   float64
		want time.Duration
	}{{0, 250 * time.Millisecond}, {128, 352400 * time.Microsecond}, {1000, 1050 * time.Millisecond}, {-5, 250 * time.Millisecond}}
	for _, tt := range tests {
		if got := ColdStartFor(tt.mb); got != tt.want {
			t.Errorf("ColdStartFor(%v) = %v, want %v", tt.mb, got, tt.want)
		}
	}
}

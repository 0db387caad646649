package workflow

import "testing"

func TestParseCPU(t *testing.T) {
	tests := []struct {
		in      string
		want    CPU
		wantErr string
	}{
		{in: "auto", want: CPU{Auto: true}},
		{in: "250m", want: CPU{Milli: 250}},
		{in: "2000m", want: CPU{Milli: 2000}},
		{in: "1", want: CPU{Milli: 1000}},
		{in: "0.5", want: CPU{Milli: 500}},
		{in: ".25", want: CPU{Milli: 250}},
		{in: "1.001", want: CPU{Milli: 1001}},
		{in: "abc", wantErr: `invalid CPU quantity "abc": ` + cpuHint},
		{in: "", wantErr: `invalid CPU quantity "": ` + cpuHint},
		{in: "m", wantErr: `invalid CPU quantity "m": ` + cpuHint},
		{in: "1.", wantErr: `invalid CPU quantity "1.": ` + cpuHint},
		{in: "1e3", wantErr: `invalid CPU quantity "1e3": ` + cpuHint},
		{in: "Auto", wantErr: `invalid CPU quantity "Auto": ` + cpuHint},
		{in: " 1", wantErr: `invalid CPU quantity " 1": ` + cpuHint},
		{in: "-1", wantErr: `invalid CPU quantity "-1": must be positive`},
		{in: "-250m", wantErr: `invalid CPU quantity "-250m": must be positive`},
		{in: "0", wantErr: `invalid CPU quantity "0": must be positive`},
		{in: "0m", wantErr: `invalid CPU quantity "0m": must be positive`},
		{in: "0.0005", wantErr: `invalid CPU quantity "0.0005": not a whole number of millicores`},
		{in: "1.5m", wantErr: `invalid CPU quantity "1.5m": not a whole number of millicores`},
		{in: "99999999999999999999", wantErr: `invalid CPU quantity "99999999999999999999": too large`},
	}
	for _, tt := range tests {
		got, err := ParseCPU(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseCPU(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseCPU(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in      string
		want    Memory
		wantErr string
	}{
		{in: "auto", want: Memory{Auto: true}},
		{in: "128Mi", want: Memory{Bytes: 128 << 20}},
		{in: "1Gi", want: Memory{Bytes: 1 << 30}},
		{in: "1.5Gi", want: Memory{Bytes: 3 << 29}},
		{in: "512M", want: Memory{Bytes: 512_000_000}},
		{in: "1073741824", want: Memory{Bytes: 1 << 30}},
		{in: "64Ki", want: Memory{Bytes: 64 << 10}},
		{in: "2k", want: Memory{Bytes: 2000}},
		{in: "1Ti", want: Memory{Bytes: 1 << 40}},
		{in: "1E", want: Memory{Bytes: 1e18}},
		{in: "7Ei", want: Memory{Bytes: 7 << 60}},
		{in: "8Ei", wantErr: `invalid memory quantity "8Ei": too large`},
		{in: "-1Gi", wantErr: `invalid memory quantity "-1Gi": must be positive`},
		{in: "0", wantErr: `invalid memory quantity "0": must be positive`},
		{in: "0Mi", wantErr: `invalid memory quantity "0Mi": must be positive`},
		{in: "0.5", wantErr: `invalid memory quantity "0.5": not a whole number of bytes`},
		{in: "512MB", wantErr: `invalid memory quantity "512MB": ` + memoryHint},
		{in: "1gi", wantErr: `invalid memory quantity "1gi": ` + memoryHint},
		{in: "100m", wantErr: `invalid memory quantity "100m": ` + memoryHint},
		{in: "Gi", wantErr: `invalid memory quantity "Gi": ` + memoryHint},
	}
	for _, tt := range tests {
		got, err := ParseMemory(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseMemory(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMemory(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestCPUString(t *testing.T) {
	tests := []struct {
		in   CPU
		want string
	}{
		{CPU{Auto: true}, "auto"},
		{CPU{Milli: 250}, "250m"},
		{CPU{Milli: 1000}, "1"},
		{CPU{Milli: 2500}, "2500m"},
		{CPU{Milli: 2000}, "2"},
		{CPU{}, "0"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMemoryString(t *testing.T) {
	tests := []struct {
		in   Memory
		want string
	}{
		{Memory{Auto: true}, "auto"},
		{Memory{Bytes: 512 << 20}, "512Mi"},
		{Memory{Bytes: 1 << 30}, "1Gi"},
		{Memory{Bytes: 512_000_000}, "512M"},
		{Memory{Bytes: 1536 << 20}, "1536Mi"},
		{Memory{Bytes: 1000}, "1k"},
		{Memory{Bytes: 1023}, "1023"},
		{Memory{}, "0"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestQuantityRoundTrip(t *testing.T) {
	cpus := []string{"auto", "1m", "250m", "999m", "1000m", "0.5", "1", "1.5", "64", "9223372036854775807m"}
	for _, s := range cpus {
		c, err := ParseCPU(s)
		if err != nil {
			t.Fatalf("ParseCPU(%q): %v", s, err)
		}
		back, err := ParseCPU(c.String())
		if err != nil || back != c {
			t.Errorf("CPU %q -> %q -> %+v, %v; want %+v", s, c.String(), back, err, c)
		}
	}
	mems := []string{"auto", "1", "1023", "1Ki", "1000", "128Mi", "512M", "1.5Gi", "3G", "1Pi", "7E", "9223372036854775807"}
	for _, s := range mems {
		m, err := ParseMemory(s)
		if err != nil {
			t.Fatalf("ParseMemory(%q): %v", s, err)
		}
		back, err := ParseMemory(m.String())
		if err != nil || back != m {
			t.Errorf("Memory %q -> %q -> %+v, %v; want %+v", s, m.String(), back, err, m)
		}
	}
}

func FuzzQuantityRoundTrip(f *testing.F) {
	for _, s := range []string{"250m", "1", "0.5", "128Mi", "512M", "1.5Gi", "auto", "-1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := ParseCPU(s); err == nil {
			if back, err := ParseCPU(c.String()); err != nil || back != c {
				t.Errorf("CPU %q -> %q -> %+v, %v", s, c.String(), back, err)
			}
		}
		if m, err := ParseMemory(s); err == nil {
			if back, err := ParseMemory(m.String()); err != nil || back != m {
				t.Errorf("Memory %q -> %q -> %+v, %v", s, m.String(), back, err)
			}
		}
	})
}

package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestTuneRefusesBadWatchFlags before any tuning (which takes minutes).
func TestTuneRefusesBadWatchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"w", "--watch", "--watch-window", "0"},
		{"w", "--watch", "--watch-misses", "-1"},
		{"w", "--watch", "--watch-poll", "0s"},
	} {
		cmd := tuneCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "want them positive") {
			t.Errorf("%v: error %v, want the watch flags refused", args, err)
		}
	}
}

// TestTuneRefusesABadRate before any tuning, naming the flag.
func TestTuneRefusesABadRate(t *testing.T) {
	for _, rate := range []string{"-1", "fast", "NaN", "+Inf", "history:", "history:0s", "history:soon", "historic"} {
		cmd := tuneCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs([]string{"w", "--rate", rate})
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "flag --rate") {
			t.Errorf("--rate %s: error %v, want the flag named", rate, err)
		}
	}
}

// TestParseTuneRate reads the rates --rate accepts.
func TestParseTuneRate(t *testing.T) {
	tests := []struct {
		in        string
		perMinute float64
		window    time.Duration
	}{
		{"", 0, 0},
		{"0", 0, 0},
		{"2.5", 2.5, 0},
		{"history", 0, 24 * time.Hour},
		{"history:6h", 0, 6 * time.Hour},
	}
	for _, tt := range tests {
		perMinute, window, err := parseTuneRate(tt.in)
		if err != nil || perMinute != tt.perMinute || window != tt.window {
			t.Errorf("parseTuneRate(%q) = %v, %v, %v; want %v, %v", tt.in, perMinute, window, err, tt.perMinute, tt.window)
		}
	}
}

// TestShortWindow drops only zero trailing units (10m is not 1).
func TestShortWindow(t *testing.T) {
	for d, want := range map[time.Duration]string{24 * time.Hour: "24h", 90 * time.Minute: "1h30m", 10 * time.Minute: "10m", 90 * time.Second: "1m30s", 10 * time.Second: "10s"} {
		if got := shortWindow(d); got != want {
			t.Errorf("shortWindow(%v) = %q, want %q", d, got, want)
		}
	}
}

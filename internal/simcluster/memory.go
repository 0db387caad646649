package simcluster

import (
	"bufio"
	"bytes"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
)

// Memory is this process's memory at one moment, after a garbage
// collection that returned what it could to the system.
type Memory struct {
	// RSSBytes is the resident set (VmRSS); PeakRSSBytes its high-water
	// mark (VmHWM) since the process started.
	RSSBytes     int64 `json:"rssBytes"`
	PeakRSSBytes int64 `json:"peakRssBytes"`
	// HeapBytes is the Go heap's live objects.
	HeapBytes int64 `json:"heapBytes"`
}

// measureMemory collects garbage, returns the freed memory to the
// system, and reads the process's memory.
func measureMemory() Memory {
	debug.FreeOSMemory()
	m := Memory{}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		m.HeapBytes = int64(sample[0].Value.Uint64())
	}
	m.RSSBytes, m.PeakRSSBytes = ProcStatusBytes("VmRSS:"), ProcStatusBytes("VmHWM:")
	return m
}

// ProcStatusBytes reads one "kB" field of /proc/self/status ("VmRSS:"),
// in bytes (0 where there is none: not Linux).
func ProcStatusBytes(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(field))
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

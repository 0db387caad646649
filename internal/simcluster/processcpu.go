package simcluster

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc/PID/stat's CPU times: Linux reports them
// to user space in clock ticks of 1/100 s whatever the kernel's own HZ.
const userHZ = 100

// ProcessCPU is the CPU time (user and system, every thread) that process
// pid has used so far, read from /proc/PID/stat to the nearest clock tick
// (10 ms): how the bench measures the simulated workers' process, which
// runs apart from the orchestrator's.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("CPU of process %d: %w", pid, err)
	}
	return parseProcessCPU(string(b))
}

// parseProcessCPU reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line. The command name (field 2) is in parentheses and
// may hold spaces and parentheses, so fields are counted after the last
// ')'.
func parseProcessCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat: no command name")
	}
	fields := strings.Fields(stat[i+1:]) // fields[0] is field 3
	if len(fields) < 13 {
		return 0, fmt.Errorf("malformed /proc stat: %d fields after the command name, want at least 13", len(fields))
	}
	var ticks uint64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed /proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

package process

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stop sends SIGTERM to process group pid, then SIGKILL after stopGrace,
// and waits until the process is gone. exited, when not nil, is closed
// when cmd.Wait returns (the caller is the parent); otherwise /proc is
// polled.
func stop(pid int, exited <-chan struct{}) error {
	start, err := startTime(pid)
	if err != nil {
		return nil // already gone
	}
	gone := func(d time.Duration) bool {
		deadline := time.Now().Add(d)
		for {
			if exited != nil {
				select {
				case <-exited:
					return true
				case <-time.After(10 * time.Millisecond):
				}
			} else {
				if !alive(pid, start) {
					return true
				}
				time.Sleep(10 * time.Millisecond)
			}
			if time.Now().After(deadline) {
				return false
			}
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	if gone(stopGrace) {
		return nil
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if gone(killWait) {
		return nil
	}
	return fmt.Errorf("process %d did not exit after SIGKILL", pid)
}

// alive reports whether process pid runs (not a zombie) and started at
// start (so a reused PID does not count).
func alive(pid int, start uint64) bool {
	st, err := stat(pid)
	return err == nil && st.start == start && st.state != "Z" && st.state != "X"
}

// startTime returns process pid's start time from /proc/PID/stat.
func startTime(pid int) (uint64, error) {
	st, err := stat(pid)
	return st.start, err
}

// pgrp returns process pid's process group, or -1.
func pgrp(pid int) int {
	st, err := stat(pid)
	if err != nil {
		return -1
	}
	return st.pgrp
}

// procStat is what the runtime reads of /proc/PID/stat.
type procStat struct {
	state string // field 3
	pgrp  int    // field 5
	start uint64 // field 22: start time in clock ticks since boot
}

// stat reads process pid's /proc/PID/stat.
func stat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed /proc stat")
	}
	fields := strings.Fields(s[i+1:]) // fields[0] is field 3
	if len(fields) < 20 {
		return procStat{}, errors.New("malformed /proc stat")
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("malformed /proc stat: %w", err)
	}
	g, err := strconv.Atoi(fields[2])
	if err != nil {
		return procStat{}, fmt.Errorf("malformed /proc stat: %w", err)
	}
	return procStat{state: fields[0], pgrp: g, start: start}, nil
}

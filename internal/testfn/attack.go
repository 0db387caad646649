package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// An attack is one thing a hostile function tries from inside its
// sandbox. POST /attack {"kind": K, "target": "ip:port"} tries it and
// answers {"stopped": true|false, "detail": "..."}: stopped says the
// sandbox prevented it ("cannot try" in the detail: the attack could not
// be set up). The attack suite (worker/containerd's tests) asserts every
// one is stopped in a hardened sandbox; linger's verdict is the suite's
// own, made from the host.
type attack struct {
	Kind   string `json:"kind"`
	Target string `json:"target,omitempty"`
}

type outcome struct {
	Stopped bool   `json:"stopped"`
	Detail  string `json:"detail"`
}

// attacks are the kinds this function knows.
var attacks = map[string]func(a attack) outcome{
	// connect opens a TCP connection to Target: another sandbox, or a
	// port of the host.
	"connect": func(a attack) outcome {
		target := a.Target
		if strings.Contains(target, "%*") {
			// An IPv6 link-local target on whatever the sandbox's
			// interface is called.
			target = strings.Replace(target, "%*", "%"+firstInterface(), 1)
		}
		c, err := net.DialTimeout("tcp", target, 2*time.Second)
		if err != nil {
			return outcome{true, err.Error()}
		}
		c.Close()
		return outcome{false, "connected to " + target}
	},
	// bind-low-port listens on TCP port 80 of every address: a port
	// below 1024 needs CAP_NET_BIND_SERVICE.
	"bind-low-port": func(attack) outcome {
		ln, err := net.Listen("tcp", ":80")
		if err != nil {
			return outcome{true, err.Error()}
		}
		ln.Close()
		return outcome{false, "listened on port 80"}
	},
	// raw-socket opens a raw IP socket (ARP and IP spoofing need one).
	"raw-socket": func(attack) outcome {
		fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0x0300)
		if err != nil {
			return outcome{true, "AF_PACKET: " + err.Error()}
		}
		syscall.Close(fd)
		return outcome{false, "opened a raw packet socket"}
	},
	"mount": func(attack) outcome {
		err := syscall.Mount("tmpfs", "/tmp", "tmpfs", 0, "")
		return result(err, "mounted a tmpfs")
	},
	// unshare makes a new mount namespace for one thread (a Go process
	// is multi-threaded, so it cannot make a user namespace: EINVAL
	// whatever the sandbox). The thread stays locked and ends with its
	// goroutine, so no other goroutine runs in what it made.
	"unshare": func(attack) outcome {
		errc := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			errc <- unix.Unshare(unix.CLONE_NEWNS)
		}()
		return result(<-errc, "made a new mount namespace")
	},
	// ptrace attaches (PTRACE_SEIZE) to a child it starts: the function
	// is the sandbox's pid 1, so its child is the other process there is.
	"ptrace": func(attack) outcome {
		self, err := os.Executable()
		if err != nil {
			return outcome{false, "cannot try: " + err.Error()}
		}
		pid, err := syscall.ForkExec(self, []string{self, "sleep"}, &syscall.ProcAttr{Env: os.Environ()})
		if err != nil {
			return outcome{false, "cannot try: start a child: " + err.Error()}
		}
		// The tracer is this thread: it stays the same until the
		// child is reaped.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer reap(pid)
		if err := unix.PtraceSeize(pid); err != nil {
			return outcome{true, "PTRACE_SEIZE of its child: " + err.Error()}
		}
		return outcome{false, fmt.Sprintf("attached to its child (pid %d) with PTRACE_SEIZE", pid)}
	},
	// linger starts a child that sleeps until it is killed, in a session
	// of its own (setsid) and never waited for, with Target on its
	// command line and in its environment for the test to find it by.
	// What stops it is outside: the test checks it stays in the
	// sandbox's cgroup and does not outlive the sandbox.
	"linger": func(a attack) outcome {
		if a.Target == "" {
			return outcome{false, "cannot try: no marker (target)"}
		}
		self, err := os.Executable()
		if err != nil {
			return outcome{false, "cannot try: " + err.Error()}
		}
		cmd := exec.Command(self, "linger", a.Target)
		cmd.Env = append(os.Environ(), "BATON_TESTFN_LINGER="+a.Target)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return outcome{true, "start a lingering child: " + err.Error()}
		}
		go cmd.Wait() //nolint:errcheck // reaped if it dies; nobody asks how
		return outcome{false, fmt.Sprintf("started a lingering child (pid %d, its own session) marked %s", cmd.Process.Pid, a.Target)}
	},
	"load-module": func(attack) outcome {
		_, _, errno := syscall.Syscall(unix.SYS_FINIT_MODULE, 0, 0, 0)
		if errno == syscall.EPERM || errno == syscall.ENOSYS || errno == syscall.EACCES {
			return outcome{true, errno.Error()}
		}
		return outcome{false, "finit_module answered " + errno.Error()}
	},
	"write-proc-sys": func(attack) outcome {
		err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0)
		return result(err, "wrote /proc/sys/net/ipv4/ip_forward")
	},
	"write-rootfs": func(attack) outcome {
		err := os.WriteFile("/baton-attack", []byte("x"), 0o644)
		return result(err, "wrote /baton-attack on the root filesystem")
	},
	"root": func(attack) outcome {
		if uid := os.Getuid(); uid != 0 {
			return outcome{true, fmt.Sprintf("runs as uid %d", uid)}
		}
		return outcome{false, "runs as root"}
	},
	// fork-bomb starts sleeping copies of itself until the kernel
	// refuses; stopped when that happens well before 5,000.
	"fork-bomb": func(attack) outcome {
		self, err := os.Executable()
		if err != nil {
			return outcome{false, err.Error()}
		}
		var pids []int
		defer func() {
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
				var ws syscall.WaitStatus
				_, _ = syscall.Wait4(p, &ws, 0, nil)
			}
		}()
		for len(pids) < 5000 {
			pid, err := syscall.ForkExec(self, []string{self, "sleep"}, &syscall.ProcAttr{Env: os.Environ()})
			if err != nil {
				return outcome{true, fmt.Sprintf("refused after %d processes: %v", len(pids), err)}
			}
			pids = append(pids, pid)
		}
		return outcome{false, "started 5,000 processes"}
	},
	// fill-tmp writes /tmp until the kernel refuses; stopped when it does
	// (the tmpfs is bounded).
	"fill-tmp": func(attack) outcome {
		f, err := os.CreateTemp("/tmp", "fill-")
		if err != nil {
			return outcome{false, err.Error()}
		}
		defer os.Remove(f.Name())
		defer f.Close()
		chunk := make([]byte, 1<<20)
		var n int64
		for n < 8<<30 {
			k, err := f.Write(chunk)
			n += int64(k)
			if err != nil {
				return outcome{true, fmt.Sprintf("refused after %d MiB: %v", n>>20, err)}
			}
		}
		return outcome{false, "wrote 8 GiB to /tmp"}
	},
	// read-host reads files of the host through /proc.
	"read-host": func(attack) outcome {
		for _, p := range []string{"/proc/1/root/etc/shadow", "/proc/sys/kernel/core_pattern"} {
			if b, err := os.ReadFile(p); err == nil && filepath.Base(p) == "shadow" && len(b) > 0 {
				return outcome{false, "read " + p}
			}
		}
		return outcome{true, "no host file readable"}
	},
}

// reap kills child pid and waits until it is gone.
func reap(pid int) {
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || ws.Exited() || ws.Signaled() {
			return
		}
	}
}

func result(err error, did string) outcome {
	if err != nil {
		return outcome{true, err.Error()}
	}
	return outcome{false, did}
}

func handleAttack(w http.ResponseWriter, r *http.Request) {
	var a attack
	if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f, ok := attacks[a.Kind]
	if !ok {
		http.Error(w, errors.New("unknown attack "+a.Kind).Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(f(a))
}

// firstInterface names the sandbox's first interface that is up and not
// the loopback ("" when there is none).
func firstInterface() string {
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback == 0 && ifc.Flags&net.FlagUp != 0 {
			return ifc.Name
		}
	}
	return ""
}

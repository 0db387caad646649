package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"syscall"
	"time"

	"baton.dev/baton/internal/simcluster"
)

// fleetSpec is the simulated workers' side of `baton bench
// controlplane`, sent as JSON to the child that runs them.
type fleetSpec struct {
	Workers           int           `json:"workers"`
	WorkerCPUMilli    int64         `json:"workerCpuMilli"`
	WorkerMemoryBytes int64         `json:"workerMemoryBytes"`
	CreateLatency     time.Duration `json:"createLatency"`
	HeartbeatInterval time.Duration `json:"heartbeatInterval"`
	// FullHeartbeatEvery is the daemons' (simcluster.Config).
	FullHeartbeatEvery   int  `json:"fullHeartbeatEvery"`
	WorkersPerConnection int  `json:"workersPerConnection"`
	Verbose              bool `json:"verbose"`
	// CPUProfile, when set, is a file the child writes a CPU profile of
	// itself to, from its fleet's start to its stop.
	CPUProfile string `json:"cpuProfile,omitempty"`
}

// fleetReady is the child's first line on its standard output: where
// its NATS server takes connections.
type fleetReady struct {
	URL string `json:"url"`
}

// FleetUsage is what the child that ran the simulated workers used, from
// its start to its end: CPU (user and system) and peak resident memory.
type FleetUsage struct {
	CPUSeconds   float64 `json:"cpuSeconds"`
	PeakRSSBytes int64   `json:"peakRssBytes"`
}

// ServeControlPlaneWorkers is the child's side of `baton bench
// controlplane` with the workers in a process of their own: it reads a
// fleetSpec on stdin, runs the fleet (simcluster.StartFleet, its NATS
// server on a free TCP port), writes a fleetReady line on stdout, and
// runs until stdin ends or ctx is done; then it stops the fleet and
// writes its FleetUsage line.
func ServeControlPlaneWorkers(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	var spec fleetSpec
	if err := decodeChildInput(stdin, &spec); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if spec.Verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	f, err := simcluster.StartFleet(ctx, simcluster.Config{
		Workers: spec.Workers, WorkerCPUMilli: spec.WorkerCPUMilli, WorkerMemoryBytes: spec.WorkerMemoryBytes,
		CreateLatency: spec.CreateLatency, HeartbeatInterval: spec.HeartbeatInterval, FullHeartbeatEvery: spec.FullHeartbeatEvery,
		WorkersPerConnection: spec.WorkersPerConnection, Logger: logger, Listen: true,
	})
	if err != nil {
		return err
	}
	stopProfile, err := profileTo(spec.CPUProfile)
	if err != nil {
		_ = f.Stop()
		return fmt.Errorf("workers process: %w", err)
	}
	defer stopProfile()
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(fleetReady{URL: f.URL()}); err != nil {
		_ = f.Stop()
		return fmt.Errorf("workers process: %w", err)
	}
	ended := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stdin); close(ended) }()
	select {
	case <-ended:
	case <-ctx.Done():
	}
	stopErr := f.Stop()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	usage := FleetUsage{
		CPUSeconds:   time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(),
		PeakRSSBytes: ru.Maxrss << 10, // Linux: kilobytes
	}
	return errors.Join(stopErr, enc.Encode(usage))
}

// profileTo starts a CPU profile of this process written to path, and
// returns what stops it; with no path, nothing.
func profileTo(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	fh, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		fh.Close()
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); fh.Close() }, nil
}

// fleetProcess is the child that runs the simulated workers.
type fleetProcess struct {
	cmd    *exec.Cmd
	sp     *spawner
	stdin  io.WriteCloser
	stdout *bufio.Reader // reads out
	out    *os.File
	url    string
	done   chan error
}

// startFleetProcess runs this executable with args (the hidden command
// that calls ServeControlPlaneWorkers) and waits until its fleet takes
// connections. The child dies with this process however it ends
// (Pdeathsig, from a thread that lives until stop).
func startFleetProcess(ctx context.Context, args []string, spec fleetSpec) (p *fleetProcess, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("workers process: %w", err)
	}
	p = &fleetProcess{cmd: exec.Command(self, args...), sp: newSpawner(), done: make(chan error, 1)}
	p.cmd.Stderr = os.Stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		p.sp.close()
		return nil, fmt.Errorf("workers process: %w", err)
	}
	// A pipe of our own, not StdoutPipe: Wait closes that one as the
	// child exits, and the child's last line could be lost.
	out, w, err := os.Pipe()
	if err != nil {
		p.sp.close()
		return nil, fmt.Errorf("workers process: %w", err)
	}
	p.cmd.Stdout, p.stdout = w, bufio.NewReader(out)
	err = p.sp.start(p.cmd)
	w.Close()
	if err != nil {
		out.Close()
		p.sp.close()
		return nil, fmt.Errorf("workers process: %w", err)
	}
	p.out = out
	go func() { p.done <- p.cmd.Wait() }()
	defer func() {
		if err != nil {
			p.kill()
			p.sp.close()
			out.Close()
		}
	}()
	if err := json.NewEncoder(p.stdin).Encode(spec); err != nil {
		return p, fmt.Errorf("workers process: %w", err)
	}
	ready := make(chan error, 1)
	go func() {
		var r fleetReady
		line, err := p.stdout.ReadBytes('\n')
		if err == nil {
			err = json.Unmarshal(line, &r)
		}
		p.url = r.URL
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			return p, fmt.Errorf("workers process: read where its NATS server is: %w", err)
		}
		return p, nil
	case <-ctx.Done():
		return p, fmt.Errorf("workers process: waiting for its %d workers: %w", spec.Workers, ctx.Err())
	}
}

// stop ends the child's input, which stops its fleet, and reads what it
// used; a child that does not end within a minute is killed.
func (p *fleetProcess) stop() (FleetUsage, error) {
	defer p.sp.close()
	defer p.out.Close()
	_ = p.stdin.Close()
	var usage FleetUsage
	read := make(chan error, 1)
	go func() {
		line, err := p.stdout.ReadBytes('\n')
		if err == nil {
			err = json.Unmarshal(line, &usage)
		}
		read <- err
	}()
	select {
	case err := <-read:
		if werr := <-p.done; werr != nil {
			return usage, fmt.Errorf("workers process: %w", werr)
		}
		if err != nil {
			return usage, fmt.Errorf("workers process: read what it used: %w", err)
		}
		return usage, nil
	case <-time.After(time.Minute):
		p.kill()
		return usage, errors.New("workers process: did not stop within a minute of its input's end; killed")
	}
}

// kill ends the child at once and waits for it.
func (p *fleetProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

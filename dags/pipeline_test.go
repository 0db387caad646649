package dags_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"baton.dev/baton/workflow"
)

var update = flag.Bool("update", false, "rewrite each sample's NAME.output.json from a real run of its functions")

// functionProcess is a function binary serving on a local port.
type functionProcess struct {
	url string
	cmd *exec.Cmd
}

// httpInvoker runs each stage on its function's process, recording the
// inputs each function got.
type httpInvoker struct {
	t      *testing.T
	procs  map[string]*functionProcess
	mu     sync.Mutex
	inputs map[string][][]byte // function -> inputs
}

// InvokeStage implements workflow.Invoker.
func (h *httpInvoker) InvokeStage(ctx context.Context, st *workflow.Stage, fn *workflow.Function, input []byte) ([]byte, error) {
	p, ok := h.procs[fn.Name]
	if !ok {
		return nil, fmt.Errorf("function %q has no process", fn.Name)
	}
	h.mu.Lock()
	h.inputs[fn.Name] = append(h.inputs[fn.Name], input)
	h.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(input))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return body, nil
}

// TestSamplesRunToTheirOutput builds every function a sample uses, runs each
// as a real process serving HTTP, runs the sample with the workflow engine
// (foreach, when and all) and compares the response with NAME.output.json
// byte for byte (or rewrites it with -update).
func TestSamplesRunToTheirOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the function binaries")
	}
	for _, name := range sampleNames(t) {
		t.Run(name, func(t *testing.T) {
			wf, err := workflow.Parse(name+".yaml", readFile(t, name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			inv := &httpInvoker{t: t, procs: map[string]*functionProcess{}, inputs: map[string][][]byte{}}
			for fn, def := range wf.Spec.Functions {
				if want := "baton.local/fn-" + fn + ":v1"; def.Image != want {
					t.Errorf("function %s: image %q, want %q (the image built from functions/%s)", fn, def.Image, want, fn)
				}
				inv.procs[fn] = startFunction(t, fn)
			}
			res, err := workflow.Run(context.Background(), wf, readFile(t, name+".input.json"), inv)
			if err != nil {
				t.Fatalf("run %s: %v", name, err)
			}
			for fn, ins := range inv.inputs {
				checkFixture(t, fn, ins)
			}
			last := res.Output
			if *update {
				if err := os.WriteFile(name+".output.json", last, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := readFile(t, name+".output.json"); !bytes.Equal(last, want) {
				t.Errorf("output differs from %s.output.json (run with -update to regenerate)\ngot:  %.400s\nwant: %.400s", name, last, want)
			}
			for fn, p := range inv.procs {
				stopFunction(t, fn, p)
			}
		})
	}
}

// TestFunctionRejectsBadInputOverHTTP checks that a function process answers
// bad input with 400 and a JSON error that names the problem.
func TestFunctionRejectsBadInputOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a function binary")
	}
	p := startFunction(t, "preprocess")
	status, body := post(t, p.url, []byte(`{"seed": 1, "width": 10, "height": 64, "objects": 3}`))
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if status != http.StatusBadRequest || !strings.Contains(e.Error, "width") {
		t.Errorf("got %d %q, want 400 naming width", status, e.Error)
	}
	stopFunction(t, "preprocess", p)
}

// checkFixture keeps functions/FN/testdata/input.json, the input that FN's
// unit tests and benchmarks use, equal to one FN gets in the sample run
// (rewriting it with -update): of the inputs FN got (one per foreach
// element), the smallest in byte order, so the choice is deterministic.
func checkFixture(t *testing.T, fn string, inputs [][]byte) {
	t.Helper()
	input := slices.MinFunc(inputs, bytes.Compare)
	path := filepath.Join("functions", fn, "testdata", "input.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, input, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want := readFile(t, path); !bytes.Equal(input, want) {
		t.Errorf("%s is stale: it differs from the input function %s gets in the sample run (run with -update)", path, fn)
	}
}

// sampleNames lists the samples by their YAML files.
func sampleNames(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample workflows found: %v", err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(f, ".yaml")
	}
	return names
}

// startFunction builds functions/NAME and runs it on a free local port until
// it answers /healthz.
func startFunction(t *testing.T, name string) *functionProcess {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	build := exec.Command("go", "build", "-o", bin, "./functions/"+name)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build function %s: %v\n%s", name, err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	cmd.Stderr = &testLogWriter{t: t, prefix: name}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start function %s: %v", name, err)
	}
	p := &functionProcess{url: fmt.Sprintf("http://127.0.0.1:%d/", port), cmd: cmd}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("function %s never became healthy: %v", name, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stopFunction sends SIGTERM and expects a clean exit.
func stopFunction(t *testing.T, name string, p *functionProcess) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal function %s: %v", name, err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("function %s did not exit cleanly on SIGTERM: %v", name, err)
	}
}

// post sends body to url and returns the status and response body.
func post(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response from %s: %v", url, err)
	}
	return resp.StatusCode, out
}

// readFile reads a file of the dags directory.
func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testLogWriter forwards a function's log lines to the test log.
type testLogWriter struct {
	t      *testing.T
	prefix string
}

// Write logs p as one entry.
func (w *testLogWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.prefix, bytes.TrimRight(p, "\n"))
	return len(p), nil
}

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
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite each sample's NAME.output.json from a real run of its functions")

// workflowStages is the part of a workflow YAML this test needs to run it.
type workflowStages struct {
	Spec struct {
		Functions map[string]struct {
			Image string `yaml:"image"`
		} `yaml:"functions"`
		Stages []struct {
			Name     string   `yaml:"name"`
			Function string   `yaml:"function"`
			Needs    []string `yaml:"needs"`
		} `yaml:"stages"`
	} `yaml:"spec"`
}

// functionProcess is a function binary serving on a local port.
type functionProcess struct {
	url string
	cmd *exec.Cmd
}

// TestSamplesRunToTheirOutput builds every function a sample uses, runs each
// as a real process serving HTTP, drives the sample's stages in order with
// the engine's data-flow rules (one dependency: its output; several: an
// object keyed by stage name) and compares the sink's response with
// NAME.output.json byte for byte (or rewrites it with -update).
func TestSamplesRunToTheirOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the function binaries")
	}
	for _, name := range sampleNames(t) {
		t.Run(name, func(t *testing.T) {
			var wf workflowStages
			if err := yaml.Unmarshal(readFile(t, name+".yaml"), &wf); err != nil {
				t.Fatalf("decode %s.yaml: %v", name, err)
			}
			procs := map[string]*functionProcess{}
			for fn, def := range wf.Spec.Functions {
				if want := "baton.local/fn-" + fn + ":v1"; def.Image != want {
					t.Errorf("function %s: image %q, want %q (the image built from functions/%s)", fn, def.Image, want, fn)
				}
				procs[fn] = startFunction(t, fn)
			}
			outputs := map[string][]byte{}
			var last []byte
			for _, st := range wf.Spec.Stages {
				input, err := stageInput(readFile(t, name+".input.json"), st.Needs, outputs)
				if err != nil {
					t.Fatalf("stage %s: %v", st.Name, err)
				}
				p, ok := procs[st.Function]
				if !ok {
					t.Fatalf("stage %s: function %q is not defined", st.Name, st.Function)
				}
				checkFixture(t, st.Function, input)
				status, body := post(t, p.url, input)
				if status != http.StatusOK {
					t.Fatalf("stage %s: status %d: %s", st.Name, status, body)
				}
				outputs[st.Name], last = body, body
			}
			if *update {
				if err := os.WriteFile(name+".output.json", last, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := readFile(t, name+".output.json"); !bytes.Equal(last, want) {
				t.Errorf("output differs from %s.output.json (run with -update to regenerate)\ngot:  %.400s\nwant: %.400s", name, last, want)
			}
			for fn, p := range procs {
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
// unit tests and benchmarks use, equal to what FN gets in the sample run
// (rewriting it with -update). Only the first sample to use FN owns it.
func checkFixture(t *testing.T, fn string, input []byte) {
	t.Helper()
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

// stageInput applies the engine's data-flow rules.
func stageInput(request []byte, needs []string, outputs map[string][]byte) ([]byte, error) {
	switch len(needs) {
	case 0:
		return request, nil
	case 1:
		out, ok := outputs[needs[0]]
		if !ok {
			return nil, fmt.Errorf("needs %q, which has not run yet", needs[0])
		}
		return out, nil
	}
	keyed := map[string]json.RawMessage{}
	for _, n := range needs {
		out, ok := outputs[n]
		if !ok {
			return nil, fmt.Errorf("needs %q, which has not run yet", n)
		}
		keyed[n] = out
	}
	return json.Marshal(keyed)
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

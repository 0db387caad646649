package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/cobra"
)

// dataPlaneLoad is the load `baton bench dataplane` puts on both paths. It
// runs in the bench's own process, or, with --client-process, in a child
// (`baton bench dataplane-client`) that reads it as JSON on its standard
// input, so that the API key never shows in a command line.
type dataPlaneLoad struct {
	BatonURL  string   `json:"batonUrl"`
	Token     string   `json:"token"`
	Workflow  string   `json:"workflow"`
	Endpoints []string `json:"endpoints"` // the warm sandboxes, for "direct"
	ProxyURL  string   `json:"proxyUrl"`  // the bare proxy in front of them

	Rate              float64       `json:"rate"`
	Seconds           time.Duration `json:"seconds"`
	Block             time.Duration `json:"block"`
	SaturationSeconds time.Duration `json:"saturationSeconds"`
	Concurrency       int           `json:"concurrency"`
}

// dataPlaneLoadResult is what the load measured on each path.
type dataPlaneLoadResult struct {
	PacedDirect     loadResult `json:"pacedDirect"`
	PacedBaton      loadResult `json:"pacedBaton"`
	PacedProxy      loadResult `json:"pacedProxy"`
	SaturatedDirect loadResult `json:"saturatedDirect"`
	SaturatedBaton  loadResult `json:"saturatedBaton"`
}

// run puts the load on the three paths with one HTTP client: a short
// warm-up of each (which fills the client's connection pool), the paced
// run alternating between them, then each side at saturation.
func (l dataPlaneLoad) run(ctx context.Context) *dataPlaneLoadResult {
	hc := benchClient()
	body := []byte(`{"n":42}`)
	viaBaton := batonInvoker(hc, l.BatonURL, l.Token, l.Workflow, body)
	direct := directPoster(hc, l.Endpoints, body)
	viaProxy := directPoster(hc, []string{l.ProxyURL}, body)
	for _, p := range []requester{direct, viaBaton, viaProxy} {
		saturate(ctx, l.Concurrency, 300*time.Millisecond, p)
	}
	var res dataPlaneLoadResult
	all := paced(ctx, l.Rate, l.Seconds, l.Block, direct, viaBaton, viaProxy)
	res.PacedDirect, res.PacedBaton, res.PacedProxy = all[0], all[1], all[2]
	res.SaturatedDirect = saturate(ctx, l.Concurrency, l.SaturationSeconds, direct)
	res.SaturatedBaton = saturate(ctx, l.Concurrency, l.SaturationSeconds, viaBaton)
	return &res
}

// runInChild runs the load in a child process of this binary and returns
// what it measured.
func (l dataPlaneLoad) runInChild(ctx context.Context) (*dataPlaneLoadResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("client process: %w", err)
	}
	in, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("client process: %w", err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, self, "bench", "dataplane-client")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("client process: %w", err)
	}
	var res dataPlaneLoadResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("client process: decode its result: %w", err)
	}
	return &res, nil
}

// benchDataPlaneClientCmd is the child of `baton bench dataplane
// --client-process`; it is not for people.
func benchDataPlaneClientCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "dataplane-client",
		Short:  "The load client of `baton bench dataplane --client-process` (reads its load as JSON on stdin)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var l dataPlaneLoad
			dec := json.NewDecoder(cmd.InOrStdin())
			dec.DisallowUnknownFields()
			if err := dec.Decode(&l); err != nil {
				return fmt.Errorf("decode the load on stdin: %w", err)
			}
			switch {
			case l.Rate <= 0 || l.Seconds <= 0 || l.Block <= 0 || l.SaturationSeconds <= 0 || l.Concurrency < 1:
				return fmt.Errorf("load on stdin: rate, seconds, block, saturationSeconds and concurrency must be positive")
			case len(l.Endpoints) == 0 || l.BatonURL == "" || l.ProxyURL == "" || l.Workflow == "":
				return fmt.Errorf("load on stdin: batonUrl, workflow, endpoints and proxyUrl are required")
			}
			res := l.run(cmd.Context())
			if err := cmd.Context().Err(); err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
		},
	}
}

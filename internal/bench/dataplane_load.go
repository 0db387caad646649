package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// DataPlaneLoad is the load RunDataPlane puts on every path. It runs in
// the bench's own process or in a child (DataPlaneOptions.ClientArgs)
// that reads it as JSON on its standard input (ServeDataPlaneLoad), so
// that the API key never shows in a command line.
type DataPlaneLoad struct {
	// BatonURL, Token and Workflow are the path through Baton.
	BatonURL string `json:"batonUrl"`
	Token    string `json:"token"`
	Workflow string `json:"workflow"`
	// Endpoints are the warm sandboxes, for "direct"; ProxyURL the bare
	// proxy in front of them.
	Endpoints []string `json:"endpoints"`
	ProxyURL  string   `json:"proxyUrl"`

	// Rate, Seconds and Block are the paced run's (DataPlaneOptions);
	// SaturationSeconds and Concurrency the saturation runs'.
	Rate              float64       `json:"rate"`
	Seconds           time.Duration `json:"seconds"`
	Block             time.Duration `json:"block"`
	SaturationSeconds time.Duration `json:"saturationSeconds"`
	Concurrency       int           `json:"concurrency"`
}

// DataPlaneLoadResult is what the load measured on each path.
type DataPlaneLoadResult struct {
	PacedDirect     LoadResult `json:"pacedDirect"`
	PacedBaton      LoadResult `json:"pacedBaton"`
	PacedProxy      LoadResult `json:"pacedProxy"`
	SaturatedDirect LoadResult `json:"saturatedDirect"`
	SaturatedBaton  LoadResult `json:"saturatedBaton"`
}

// validate says whether the load can run.
func (l DataPlaneLoad) validate() error {
	switch {
	case l.Rate <= 0 || l.Seconds <= 0 || l.Block <= 0 || l.SaturationSeconds <= 0 || l.Concurrency < 1:
		return errors.New("rate, seconds, block, saturationSeconds and concurrency must be positive")
	case len(l.Endpoints) == 0 || l.BatonURL == "" || l.ProxyURL == "" || l.Workflow == "":
		return errors.New("batonUrl, workflow, endpoints and proxyUrl are required")
	}
	return nil
}

// run puts the load on the three paths with one HTTP client: a short
// warm-up of each (which fills the client's connection pool), the paced
// run alternating between them, then each side at saturation.
func (l DataPlaneLoad) run(ctx context.Context) *DataPlaneLoadResult {
	hc := newHTTPClient()
	body := []byte(`{"n":42}`)
	viaBaton := batonInvoker(hc, l.BatonURL, l.Token, l.Workflow, body)
	direct := directPoster(hc, l.Endpoints, body)
	viaProxy := directPoster(hc, []string{l.ProxyURL}, body)
	for _, p := range []requester{direct, viaBaton, viaProxy} {
		saturate(ctx, l.Concurrency, 300*time.Millisecond, p)
	}
	var res DataPlaneLoadResult
	all := paced(ctx, l.Rate, l.Seconds, l.Block, direct, viaBaton, viaProxy)
	res.PacedDirect, res.PacedBaton, res.PacedProxy = all[0], all[1], all[2]
	res.SaturatedDirect = saturate(ctx, l.Concurrency, l.SaturationSeconds, direct)
	res.SaturatedBaton = saturate(ctx, l.Concurrency, l.SaturationSeconds, viaBaton)
	return &res
}

// runInChild runs the load in a child process of this executable, started
// with args, and returns what it measured.
func (l DataPlaneLoad) runInChild(ctx context.Context, args []string) (*DataPlaneLoadResult, error) {
	var res DataPlaneLoadResult
	if err := runChild(ctx, args, l, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// ServeDataPlaneLoad is the child's side of DataPlaneOptions.ClientArgs:
// it reads a DataPlaneLoad as JSON from stdin (no unknown field), runs it
// and writes its DataPlaneLoadResult as JSON to stdout.
func ServeDataPlaneLoad(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	var l DataPlaneLoad
	if err := decodeChildInput(stdin, &l); err != nil {
		return err
	}
	if err := l.validate(); err != nil {
		return fmt.Errorf("load on stdin: %w", err)
	}
	res := l.run(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}

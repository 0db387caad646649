// Package sandboxtest is the conformance suite every worker.Runtime must
// pass. A runtime's tests call Run with a function that opens the runtime
// on the test images (testenv.Images).
package sandboxtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"baton.dev/baton/worker"
)

// Test images, built by imagebuild.BuildTestFunctions.
const (
	ImageOK        = "baton.local/testfn-ok:v1"
	ImageFail500   = "baton.local/testfn-fail500:v1"
	ImageCrash     = "baton.local/testfn-crash:v1"
	ImageUnhealthy = "baton.local/testfn-unhealthy:v1"
)

// conformance is one behaviour every runtime must have.
type conformance struct {
	name string
	run  func(t *testing.T, rt worker.Runtime)
}

// Run opens one runtime with open and checks, in parallel subtests, the
// behaviour worker.Runtime promises: create, invoke, list and delete; the
// error kinds (ErrImageNotFound, ErrUnhealthy, ErrExists, ErrNotFound);
// that failed creates leave nothing behind; that a crashed sandbox can be
// deleted; and concurrent creates. open must register the runtime's
// cleanup with t.
func Run(t *testing.T, open func(t *testing.T) worker.Runtime) {
	rt := open(t)
	tests := []conformance{
		{"images lists the test images", testImages},
		{"create invoke list delete", testLifecycle},
		{"function errors reach the caller", testFail500},
		{"unknown image", testUnknownImage},
		{"unhealthy sandbox", testUnhealthy},
		{"crashed sandbox can be deleted", testCrash},
		{"duplicate ID", testDuplicate},
		{"invalid ID", testInvalidID},
		{"parallel creates", testParallel},
		{"verify tells its own connections from others", testVerify},
	}
	t.Run("conformance", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.run(t, rt)
			})
		}
	})
}

func testImages(t *testing.T, rt worker.Runtime) {
	imgs, err := rt.Images(context.Background())
	if err != nil {
		t.Fatalf("Images: %v", err)
	}
	for _, want := range []string{ImageOK, ImageFail500, ImageCrash, ImageUnhealthy} {
		if !contains(imgs, want) {
			t.Errorf("Images() = %v, lacks %s", imgs, want)
		}
	}
}

func testLifecycle(t *testing.T, rt worker.Runtime) {
	ctx := context.Background()
	spec := worker.SandboxSpec{
		ID: NewID("life"), Function: "tenant/flow/echo", Image: ImageOK,
		CPUMilli: 250, MemoryBytes: 64 << 20, Env: map[string]string{"GREETING": "hello"},
	}
	sb := Create(t, rt, spec)
	if sb.ID != spec.ID || sb.Function != spec.Function || sb.Image != spec.Image ||
		sb.CPUMilli != spec.CPUMilli || sb.MemoryBytes != spec.MemoryBytes {
		t.Errorf("Create returned %+v, want the spec's %+v", sb, spec)
	}
	if sb.ColdStart.Total <= 0 || sb.Created.IsZero() {
		t.Errorf("Create returned cold start %+v, created %v: want them set", sb.ColdStart, sb.Created)
	}
	t.Logf("%s cold start: %s", rt.Name(), FormatColdStart(sb.ColdStart))

	status, body, err := Post(ctx, sb.Endpoint, `{"n":42}`)
	if err != nil || status != http.StatusOK || body != `{"n":42}` {
		t.Errorf("POST %s/ = %d %q, %v; want 200 echoing the body", sb.Endpoint, status, body, err)
	}

	listed, ok := Listed(t, rt, spec.ID)
	if !ok {
		t.Fatalf("List lacks %s after Create", spec.ID)
	}
	if listed.Function != spec.Function || listed.Image != spec.Image || listed.CPUMilli != spec.CPUMilli ||
		listed.MemoryBytes != spec.MemoryBytes || listed.Endpoint != sb.Endpoint {
		t.Errorf("List gives %+v, want function, image, limits and endpoint of %+v", listed, sb)
	}

	if err := rt.Delete(ctx, spec.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, ok := Listed(t, rt, spec.ID); ok {
		t.Errorf("List still has %s after Delete", spec.ID)
	}
	if err := Health(ctx, sb.Endpoint); err == nil {
		t.Errorf("GET %s/healthz answers 200 after Delete", sb.Endpoint)
	}
	if err := rt.Delete(ctx, spec.ID); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
}

func testFail500(t *testing.T, rt worker.Runtime) {
	sb := Create(t, rt, worker.SandboxSpec{ID: NewID("fail"), Function: "t/w/fail", Image: ImageFail500, CPUMilli: 250, MemoryBytes: 64 << 20})
	status, body, err := Post(context.Background(), sb.Endpoint, "{}")
	if err != nil || status != http.StatusInternalServerError || !strings.Contains(body, "failing by design") {
		t.Errorf("POST = %d %q, %v; want 500 with the function's message", status, body, err)
	}
}

func testUnknownImage(t *testing.T, rt worker.Runtime) {
	id := NewID("noimg")
	_, err := rt.Create(context.Background(), worker.SandboxSpec{ID: id, Function: "t/w/x", Image: "baton.local/does-not-exist:v1", CPUMilli: 250, MemoryBytes: 64 << 20})
	if !errors.Is(err, worker.ErrImageNotFound) {
		t.Fatalf("Create = %v, want ErrImageNotFound", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "does-not-exist") || !strings.Contains(msg, ImageOK) {
		t.Errorf("error %q should name the missing image and the images there are", msg)
	}
	if _, ok := Listed(t, rt, id); ok {
		t.Errorf("List has %s after a failed Create", id)
	}
}

func testUnhealthy(t *testing.T, rt worker.Runtime) {
	id := NewID("sick")
	_, err := rt.Create(context.Background(), worker.SandboxSpec{
		ID: id, Function: "t/w/sick", Image: ImageUnhealthy, CPUMilli: 250, MemoryBytes: 64 << 20,
		HealthTimeout: 2 * time.Second,
	})
	if !errors.Is(err, worker.ErrUnhealthy) {
		t.Fatalf("Create = %v, want ErrUnhealthy", err)
	}
	if !strings.Contains(err.Error(), "2s") {
		t.Errorf("error %q should name the timeout", err)
	}
	if _, ok := Listed(t, rt, id); ok {
		t.Errorf("List has %s after a failed Create", id)
	}
	if err := rt.Delete(context.Background(), id); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("Delete after a failed Create = %v, want ErrNotFound (nothing left)", err)
	}
}

func testCrash(t *testing.T, rt worker.Runtime) {
	ctx := context.Background()
	sb := Create(t, rt, worker.SandboxSpec{ID: NewID("crash"), Function: "t/w/crash", Image: ImageCrash, CPUMilli: 250, MemoryBytes: 64 << 20})
	if status, body, err := Post(ctx, sb.Endpoint, "{}"); err == nil {
		t.Errorf("POST to a crashing function = %d %q, want a connection error", status, body)
	}
	if err := rt.Delete(ctx, sb.ID); err != nil {
		t.Errorf("Delete a crashed sandbox: %v", err)
	}
	if _, ok := Listed(t, rt, sb.ID); ok {
		t.Errorf("List has %s after Delete", sb.ID)
	}
}

func testDuplicate(t *testing.T, rt worker.Runtime) {
	ctx := context.Background()
	spec := worker.SandboxSpec{ID: NewID("dup"), Function: "t/w/dup", Image: ImageOK, CPUMilli: 250, MemoryBytes: 64 << 20}
	sb := Create(t, rt, spec)
	if _, err := rt.Create(ctx, spec); !errors.Is(err, worker.ErrExists) {
		t.Fatalf("second Create with ID %s = %v, want ErrExists", spec.ID, err)
	}
	if err := Health(ctx, sb.Endpoint); err != nil {
		t.Errorf("the first sandbox stopped answering after a duplicate Create: %v", err)
	}
}

func testInvalidID(t *testing.T, rt worker.Runtime) {
	for _, id := range []string{"", "Upper", "has_underscore", "-leading", strings.Repeat("a", 64)} {
		_, err := rt.Create(context.Background(), worker.SandboxSpec{ID: id, Function: "t/w/x", Image: ImageOK, CPUMilli: 250, MemoryBytes: 64 << 20})
		if err == nil {
			t.Errorf("Create with ID %q succeeded, want an error", id)
			_ = rt.Delete(context.Background(), id)
		}
	}
}

func testParallel(t *testing.T, rt worker.Runtime) {
	const n = 4
	var wg sync.WaitGroup
	sandboxes := make([]worker.Sandbox, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spec := worker.SandboxSpec{ID: NewID(fmt.Sprintf("par%d", i)), Function: "t/w/par", Image: ImageOK, CPUMilli: 250, MemoryBytes: 64 << 20}
			sandboxes[i], errs[i] = rt.Create(context.Background(), spec)
		}()
	}
	wg.Wait()
	for i, sb := range sandboxes {
		if errs[i] != nil {
			t.Errorf("create %d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { _ = rt.Delete(context.Background(), sb.ID) })
	}
	seen := map[string]bool{}
	for i, sb := range sandboxes {
		if errs[i] != nil {
			continue
		}
		if seen[sb.Endpoint] {
			t.Errorf("endpoint %s given to two sandboxes", sb.Endpoint)
		}
		seen[sb.Endpoint] = true
		want := fmt.Sprintf(`{"i":%d}`, i)
		if status, body, err := Post(context.Background(), sb.Endpoint, want); err != nil || status != 200 || body != want {
			t.Errorf("POST %s = %d %q, %v; want 200 %s", sb.Endpoint, status, body, err, want)
		}
	}
	for i, sb := range sandboxes {
		if errs[i] == nil {
			if err := rt.Delete(context.Background(), sb.ID); err != nil {
				t.Errorf("Delete %s: %v", sb.ID, err)
			}
		}
	}
}

// NewID returns a sandbox ID unique across test runs on this machine:
// prefix and 8 random hex digits (cgroup paths are machine-wide).
func NewID(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// Create creates a sandbox, failing the test on error, and deletes it when
// the test ends unless the test deleted it.
func Create(t *testing.T, rt worker.Runtime, spec worker.SandboxSpec) worker.Sandbox {
	t.Helper()
	sb, err := rt.Create(context.Background(), spec)
	if err != nil {
		t.Fatalf("Create %s (%s): %v", spec.ID, spec.Image, err)
	}
	t.Cleanup(func() {
		if err := rt.Delete(context.Background(), spec.ID); err != nil && !errors.Is(err, worker.ErrNotFound) {
			t.Errorf("cleanup: Delete %s: %v", spec.ID, err)
		}
	})
	return sb
}

// Listed returns the sandbox with id from rt.List.
func Listed(t *testing.T, rt worker.Runtime, id string) (worker.Sandbox, bool) {
	t.Helper()
	all, err := rt.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, sb := range all {
		if sb.ID == id {
			return sb, true
		}
	}
	return worker.Sandbox{}, false
}

// client talks to sandboxes directly, never through a proxy.
func client() *http.Client {
	return &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
}

// Post invokes the function at endpoint with body.
func Post(ctx context.Context, endpoint, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewBufferString(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Health returns nil when GET endpoint/healthz answers 200.
func Health(ctx context.Context, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := client().Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/healthz: %s", endpoint, resp.Status)
	}
	return nil
}

// FormatColdStart renders a cold-start breakdown for test logs.
func FormatColdStart(cs worker.ColdStart) string {
	return fmt.Sprintf("image %v, create %v, network %v, start %v, healthy %v, total %v",
		cs.Image, cs.Create, cs.Network, cs.Start, cs.Healthy, cs.Total)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

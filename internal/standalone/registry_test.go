package standalone_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/client"
	"baton.dev/baton/registry"
	"github.com/nats-io/nats.go/jetstream"
)

// registrySubnet is this test's sandbox subnet.
const (
	registrySubnet        = "10.163.0.0/16"
	privateRegistrySubnet = "10.162.0.0/16"
)

func registryWorkflow(name, image string) string {
	return workflowYAML(name, image, "- {name: only, function: f}")
}

// TestImagesFromARegistry deploys a workflow whose image only a real
// registry (TLS with a test CA) has, through the whole of Baton: the tag
// is pinned to its digest at deploy and shown beside the reference as
// written; a new image pushed under the same tag changes nothing until
// the next deploy (a cold start after it still runs the pinned bits); a
// tag that does not exist, or a registry that is down, refuses the deploy
// naming the field and its line, and stores nothing.
func TestImagesFromARegistry(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and a bridge")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	reg := testenv.StartRegistry(t, false)
	images := testenv.Images(t)
	okDigest := reg.Push(t, filepath.Join(images, "testfn-ok.tar"), "acme/fn:1")

	cl := startBaton(t, standalone.Config{
		Runtime: standalone.RuntimeContainerd, Subnet: registrySubnet,
		Pulls:         standalone.Pulls{Registries: registry.Hosts{CAFile: reg.CAFile}},
		Orchestration: standalone.Orchestration{KeepAlive: 300 * time.Millisecond, HealthTimeout: 20 * time.Second, AutoscaleTick: 100 * time.Millisecond},
	}, slog.LevelInfo)
	t.Cleanup(func() {
		if err := cl.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	api := &client.Client{URL: cl.URL, Token: cl.Token}
	ref := reg.Host + "/acme/fn:1"

	sum, err := api.Deploy(ctx, "byo.yaml", []byte(registryWorkflow("byo", ref)))
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if len(sum.Images) != 1 || sum.Images[0].Image != ref || sum.Images[0].Digest != okDigest || sum.Images[0].Pinned != reg.Host+"/acme/fn@"+okDigest {
		t.Fatalf("deploy shows images %+v, want %s pinned to %s", sum.Images, ref, okDigest)
	}
	res, err := api.Invoke(ctx, "byo", []byte(`{"n":1}`))
	if err != nil {
		t.Fatalf("first invocation (cold, pulls): %v", err)
	}
	inv, err := api.Invocation(ctx, res.InvocationID)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Stages) != 1 || inv.Stages[0].ColdStart == nil || inv.Stages[0].ColdStart.Pull <= 0 || inv.Stages[0].ColdStart.PullBytes <= 0 {
		t.Fatalf("the cold start's timeline shows no pull: %+v", inv.Stages)
	}
	if got := metricValue(t, cl.URL, cl.AdminToken, `baton_image_pull_bytes_sum{stage="only",tenant="default",workflow="byo"}`); got != float64(inv.Stages[0].ColdStart.PullBytes) {
		t.Errorf("baton_image_pull_bytes sums %v, the cold start pulled %d bytes", got, inv.Stages[0].ColdStart.PullBytes)
	}
	if !strings.Contains(res.ServerTiming, "pull") {
		t.Errorf("Server-Timing %q has no pull phase", res.ServerTiming)
	}

	// The tag moves to an image that fails every call; the deployed
	// revision keeps the digest it was pinned to.
	reg.Push(t, filepath.Join(images, "testfn-fail500.tar"), "acme/fn:1")
	waitNoSandboxes(t, ctx, cl, "byo")
	res, err = api.Invoke(ctx, "byo", []byte(`{"n":2}`))
	if err != nil {
		t.Fatalf("a cold start after the tag moved ran something else than the pinned digest: %v", err)
	}
	if res.ColdStarts != 1 {
		t.Fatalf("the invocation after the re-push was not a cold start (%d): the test proves nothing", res.ColdStarts)
	}
	got, err := api.Workflow(ctx, "byo")
	if err != nil || got.Images[0].Digest != okDigest {
		t.Fatalf("workflow after the re-push: %+v, %v; want still %s", got, err, okDigest)
	}

	// Bad references: refused with the field and line, nothing stored.
	bad := []struct {
		name, image string
		status      int
		want        string
	}{
		{"a tag that does not exist", reg.Host + "/acme/fn:9", http.StatusUnprocessableEntity, "no such repository or tag"},
		{"a repository that does not exist", reg.Host + "/acme/none:1", http.StatusUnprocessableEntity, "no such repository or tag"},
		{"a reference that does not parse", reg.Host + "/Acme/fn:1", http.StatusBadRequest, "invalid image reference"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			_, err := api.Deploy(ctx, "bad.yaml", []byte(registryWorkflow("bad", b.image)))
			ce := wantStatus(t, b.name, err, b.status, b.want, "spec.functions.f.image")
			if ce != nil && (len(ce.Problems) != 1 || ce.Problems[0].Line != 8 || ce.Problems[0].File != "bad.yaml") {
				t.Errorf("problems %+v, want one at bad.yaml line 8", ce.Problems)
			}
			wantStatus(t, "the refused workflow", getErr(api.Workflow(ctx, "bad")), http.StatusNotFound)
		})
	}

	t.Run("the registry down", func(t *testing.T) {
		reg.Push(t, filepath.Join(images, "testfn-ok.tar"), "acme/fresh:1")
		if _, err := api.Deploy(ctx, "fresh.yaml", []byte(registryWorkflow("fresh", reg.Host+"/acme/fresh:1"))); err != nil {
			t.Fatal(err)
		}
		reg.Stop()
		_, err := api.Deploy(ctx, "down.yaml", []byte(registryWorkflow("down", ref)))
		wantStatus(t, "deploy with the registry down", err, http.StatusUnprocessableEntity, reg.Host, "spec.functions.f.image")
		// What the worker has keeps running.
		waitNoSandboxes(t, ctx, cl, "byo")
		res, err := api.Invoke(ctx, "byo", []byte(`{"n":3}`))
		if err != nil || res.ColdStarts != 1 {
			t.Errorf("a cold start of a pulled image with the registry down: %+v, %v", res, err)
		}
		// A cold start that needs the registry fails, naming the image and
		// the registry.
		_, err = api.Invoke(ctx, "fresh", []byte(`{}`))
		wantStatus(t, "a cold start that must pull with the registry down", err, http.StatusBadGateway, "acme/fresh", reg.Host)
		reg.Restart(t)
		if _, err := api.Invoke(ctx, "fresh", []byte(`{}`)); err != nil {
			t.Errorf("the first cold start after the registry came back: %v", err)
		}
	})
}

func getErr[T any](_ T, err error) error { return err }

// waitNoSandboxes waits for the autoscaler to retire workflow's idle
// sandboxes (the router's own view), so that the next invocation is a
// cold start.
func waitNoSandboxes(t *testing.T, ctx context.Context, cl *standalone.Cluster, workflow string) {
	t.Helper()
	for {
		n := 0
		for _, ps := range cl.Orchestrator.PoolStates() {
			if strings.Contains(ps.Function, "/"+workflow+"/") {
				n += len(ps.Idle) + ps.Busy + ps.Creating
			}
		}
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d sandboxes of %s still up", n, workflow)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// lockedBuffer collects a cluster's log for the test to search.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPrivateRegistryLogins runs a private image (a registry with htpasswd
// logins) for the tenant that stored a login, and for no one else: without
// a login the deploy is refused naming the field; with it the deploy pins
// and the worker pulls; another tenant's deploy of the same image is
// refused; the login is sealed in JetStream (neither user name nor
// password appears there), never returned by the API, never logged.
func TestPrivateRegistryLogins(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and a bridge")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	reg := testenv.StartRegistry(t, true)
	reg.Push(t, filepath.Join(testenv.Images(t), "testfn-ok.tar"), "private/fn:1")
	ref := reg.Host + "/private/fn:1"

	var logs lockedBuffer
	cl, err := standalone.Start(ctx, standalone.Config{
		DataDir: shortTempDir(t), ImagesDir: testenv.Images(t), Listen: "127.0.0.1:0",
		Runtime: standalone.RuntimeContainerd, Subnet: privateRegistrySubnet,
		Pulls:  standalone.Pulls{Registries: registry.Hosts{CAFile: reg.CAFile}},
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cl.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	alpha := &client.Client{URL: cl.URL, Token: cl.Token}
	admin := &client.Client{URL: cl.URL, Token: cl.AdminToken}
	bt, err := admin.CreateTenant(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	beta := &client.Client{URL: cl.URL, Token: bt.Key}

	_, err = alpha.Deploy(ctx, "p.yaml", []byte(registryWorkflow("p", ref)))
	wantStatus(t, "deploy without a login", err, http.StatusUnprocessableEntity, "refused the login", "spec.functions.f.image")

	if err := alpha.AddRegistry(ctx, reg.Host, reg.Username, reg.Password); err != nil {
		t.Fatal(err)
	}
	logins, err := alpha.Registries(ctx)
	if err != nil || len(logins) != 1 || logins[0].Host != reg.Host || logins[0].Username != reg.Username {
		t.Fatalf("logins %+v, %v", logins, err)
	}
	if _, err := alpha.Deploy(ctx, "p.yaml", []byte(registryWorkflow("p", ref))); err != nil {
		t.Fatalf("deploy with the login: %v", err)
	}
	if _, err := alpha.Invoke(ctx, "p", []byte(`{}`)); err != nil {
		t.Fatalf("invoke (the worker pulls with the login): %v", err)
	}

	_, err = beta.Deploy(ctx, "p.yaml", []byte(registryWorkflow("p", ref)))
	wantStatus(t, "another tenant's deploy of the private image", err, http.StatusUnprocessableEntity, "refused the login")
	if l, err := beta.Registries(ctx); err != nil || len(l) != 0 {
		t.Errorf("beta sees logins %+v, %v", l, err)
	}

	// At rest: sealed.
	nc, err := cl.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, "baton_registry_logins")
	if err != nil {
		t.Fatal(err)
	}
	all, err := kv.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The logins, beside the HMAC that checks the secret key.
	keys := slices.DeleteFunc(slices.Clone(all), func(k string) bool { return k == "key-check" })
	if len(keys) != 1 || len(all) != 2 {
		t.Fatalf("stored logins %v: want one login and the key check", all)
	}
	e, err := kv.Get(ctx, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	if v := string(e.Value()); strings.Contains(v, reg.Password) || strings.Contains(v, reg.Username) {
		t.Errorf("the stored login is not sealed: %s", v)
	}
	if strings.Contains(logs.String(), reg.Password) {
		t.Errorf("the password appears in the log")
	}

	// A wrong password stored replaces the login; deploys then fail.
	if err := alpha.AddRegistry(ctx, reg.Host, reg.Username, "not-the-password-93a"); err != nil {
		t.Fatal(err)
	}
	_, err = alpha.Deploy(ctx, "q.yaml", []byte(registryWorkflow("q", ref)))
	wantStatus(t, "deploy with a wrong login", err, http.StatusUnprocessableEntity, "refused the login")
	if err := alpha.RemoveRegistry(ctx, reg.Host); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "remove a login twice", alpha.RemoveRegistry(ctx, reg.Host), http.StatusNotFound)
}

package faulttest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/internal/faulttest"
	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/natsauth"
)

// TestClusterOnAnAuthenticatedBus runs the orchestrator and a worker on a
// NATS server that `baton nats-config`'s bundle configures: with their own
// credentials they serve invocations; a worker that presents another
// worker's credentials, or none, or the orchestrator without its own,
// stops at once saying why.
func TestClusterOnAnAuthenticatedBus(t *testing.T) {
	ctx := context.Background()
	images := testenv.Images(t)
	bin := faulttest.Binary(t, shortDir(t, "bb-"))
	bundle, err := natsauth.Generate(t.TempDir(), []string{"w1", "w2"}, natsauth.Server{})
	if err != nil {
		t.Fatal(err)
	}
	ns := faulttest.StartNATSConfig(t, bundle.ServerConfig)
	w1 := faulttest.StartWorker(t, bin, ns.URL(), "w1", "process", shortDir(t, "bw-"), images, "10.184.0.0/16", "--nats-creds", bundle.Workers["w1"])
	defer w1.Terminate(t)
	orc := faulttest.StartOrchestrator(t, bin, ns.URL(), t.TempDir(), faulttest.FreePort(t), "", "", "--nats-creds", bundle.Orchestrator)
	faulttest.WaitWorkers(ctx, t, orc.URL, 1, 30*time.Second)
	api := orc.Client()
	if _, err := api.Deploy(ctx, "chain.yaml", chainYAML("chain", "testfn-ok", 2)); err != nil {
		t.Fatal(err)
	}
	res, err := api.Invoke(ctx, "chain", []byte(`{"bus":"authenticated"}`))
	if err != nil || string(res.Output) != `{"bus":"authenticated"}` {
		t.Fatalf("invoke on the authenticated bus: %v (output %q)", err, res.Output)
	}

	refused := []struct {
		name string
		args []string
		want string
	}{
		{"a worker with another worker's credentials",
			[]string{"worker", "--nats", ns.URL(), "--id", "w2", "--runtime", "process", "--data", shortDir(t, "bw-"), "--images", images, "--nats-creds", bundle.Workers["w1"]},
			"refused its subjects"},
		{"a worker without credentials",
			[]string{"worker", "--nats", ns.URL(), "--id", "w2", "--runtime", "process", "--data", shortDir(t, "bw-"), "--images", images},
			"refused this process's credentials"},
		{"an orchestrator without credentials",
			[]string{"orchestrator", "--nats", ns.URL(), "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--postgres", "off"},
			"refused this process's credentials"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			p := faulttest.Start(t, "refused", bin, nil, tc.args...)
			if err := p.Wait(t, 30*time.Second); err == nil {
				t.Errorf("it exited 0; want a failure")
			}
			if !strings.Contains(p.Log(), tc.want) {
				t.Errorf("its output does not say %q:\n%s", tc.want, p.Log())
			}
		})
	}
	// The cluster kept serving.
	if _, err := api.Invoke(ctx, "chain", []byte(`{"after":1}`)); err != nil {
		t.Errorf("invoke after the refused processes: %v", err)
	}
}

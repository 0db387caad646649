package faulttest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"baton.dev/baton/internal/faulttest"
	"baton.dev/baton/internal/registryserver"
	"baton.dev/baton/internal/testenv"
)

// TestWorkerKilledDuringAPull kills a containerd worker (SIGKILL) while it
// pulls a never-seen image (one layer of about 13 MiB, 8 MiB of it random)
// through a proxy that passes 2 MiB/s, once a quarter of the layer has
// arrived. containerd commits a blob under its digest only once all of it
// arrived and matched, so the killed pull leaves no layer blob, only a
// partial ingest. The worker restarted on the same data pulls the image
// to the end and runs it, and the invocation that was waiting for the
// killed pull is not lost: it completes on the restarted worker.
func TestWorkerKilledDuringAPull(t *testing.T) {
	const subnet = "10.182.0.0/16"
	ctx := context.Background()
	images := testenv.Images(t)
	base, err := tarball.ImageFromPath(filepath.Join(images, "testfn-ok.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	img, layerSize, err := registryserver.UniqueImage(base, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layerDigest, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	reg := testenv.StartRegistry(t, false)
	reg.PushImage(t, img, "acme/big:1")
	proxy := testenv.StartSlowProxy(t, reg.Host, 2<<20)

	bin := faulttest.Binary(t, shortDir(t, "bb-"))
	ns := faulttest.StartNATS(t)
	ca := []string{"--registry-ca", reg.CAFile}
	workerArgs := append([]string{"--registry", shortDir(t, "br-")}, ca...)
	dir := shortDir(t, "bw-")
	w1 := faulttest.StartWorker(t, bin, ns.URL(), "w1", "containerd", dir, images, subnet, workerArgs...)
	orc := faulttest.StartOrchestrator(t, bin, ns.URL(), t.TempDir(), faulttest.FreePort(t), "", "", ca...)
	faulttest.WaitWorkers(ctx, t, orc.URL, 1, 30*time.Second)
	api := orc.Client()
	doc := fmt.Sprintf(`apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: big}
spec:
  functions:
    f: {image: %s/acme/big:1, resources: {cpu: 250m, memory: 64Mi}, idempotent: true}
  stages:
    - {name: only, function: f}
`, proxy.Addr)
	if _, err := api.Deploy(ctx, "big.yaml", []byte(doc)); err != nil {
		t.Fatal(err)
	}

	// The first invocation starts the pull; the worker dies in it.
	first := make(chan error, 1)
	go func() {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		_, err := api.Invoke(ictx, "big", []byte(`{"n":1}`))
		first <- err
	}()
	for deadline := time.Now().Add(time.Minute); proxy.Served.Load() < layerSize/4; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pull passed %d bytes in a minute", proxy.Served.Load())
		}
	}
	w1.Kill(t)
	served := proxy.Served.Load()
	if served >= layerSize {
		t.Fatalf("the proxy passed %d bytes before the kill, the layer is %d: the pull was not cut", served, layerSize)
	}

	content := filepath.Join(dir, "containerd", "root", "io.containerd.content.v1.content")
	blob := filepath.Join(content, "blobs", "sha256", layerDigest.Hex)
	if _, err := os.Stat(blob); !os.IsNotExist(err) {
		t.Fatalf("the layer's blob exists after a pull killed at %d of %d bytes (%v): half-written content would be served", served, layerSize, err)
	}
	ingests, _ := os.ReadDir(filepath.Join(content, "ingest"))
	t.Logf("killed at %d of %d bytes; %d partial ingests left", served, layerSize, len(ingests))

	w1 = faulttest.StartWorker(t, bin, ns.URL(), "w1", "containerd", dir, images, subnet, workerArgs...)
	defer w1.Terminate(t)
	faulttest.WaitWorkers(ctx, t, orc.URL, 1, 30*time.Second)
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := api.Invoke(ictx, "big", []byte(`{"n":2}`))
	if err != nil {
		t.Fatalf("an invocation after the worker came back: %v", err)
	}
	if string(res.Output) != `{"n":2}` {
		t.Errorf("output %q", res.Output)
	}
	if _, err := os.Stat(blob); err != nil {
		t.Errorf("the layer's blob after the completed pull: %v", err)
	}
	w1.WaitLog(t, regexp.MustCompile(`image pulled.*`+regexp.QuoteMeta("acme/big")), 10*time.Second)
	select {
	case err := <-first:
		if err != nil {
			t.Errorf("the invocation accepted before the kill was lost: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Error("the invocation whose worker was killed in its pull never ended")
	}
}

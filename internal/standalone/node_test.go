package standalone_test

import (
	"context"
	"strings"
	"testing"

	"baton.dev/baton/internal/standalone"
)

func TestStartWorkerRefusesBadConfig(t *testing.T) {
	_, err := standalone.StartWorker(context.Background(), standalone.WorkerConfig{ID: "w", MaxConcurrentCreates: -2})
	if err == nil || !strings.Contains(err.Error(), "max concurrent creates -2") {
		t.Fatalf("StartWorker with negative creates: %v; want an error naming it", err)
	}
}

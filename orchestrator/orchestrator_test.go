package orchestrator

import (
	"context"
	"strings"
	"testing"
)

func TestNewRefusesBadConfig(t *testing.T) {
	_, err := New(context.Background(), Config{MaxSandboxesPerFunction: -1})
	if err == nil || !strings.Contains(err.Error(), "max sandboxes per function -1") {
		t.Fatalf("New with a negative cap: %v; want an error naming it", err)
	}
}

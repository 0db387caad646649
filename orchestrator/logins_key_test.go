package orchestrator

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"baton.dev/baton/internal/testenv"
)

// TestReplicasMustShareTheSecretKey: the first orchestrator records which
// key seals the logins; one opening the bucket with the same key (a
// restart, another replica) opens it, one with another key is refused
// (ErrSecretKeyMismatch) rather than lose every login; one with no key
// opens it (it stores and uses none).
func TestReplicasMustShareTheSecretKey(t *testing.T) {
	js, err := jetstream.New(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, log := t.Context(), slog.New(slog.DiscardHandler)
	key, other := bytes.Repeat([]byte{1}, SecretKeySize), bytes.Repeat([]byte{2}, SecretKeySize)
	tests := []struct {
		name    string
		key     []byte
		wantErr error
	}{
		{"the first records its key", key, nil},
		{"the same key opens it", key, nil},
		{"another key is refused", other, ErrSecretKeyMismatch},
		{"no key opens it", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := OpenLogins(ctx, js, tt.key, log); !errors.Is(err, tt.wantErr) {
				t.Fatalf("OpenLogins = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

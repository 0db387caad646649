package standalone

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"baton.dev/baton/orchestrator"
)

// SecretKeyEnv names the environment variable that may hold the key that
// seals registry logins, as hex.
const SecretKeyEnv = "BATON_SECRET_KEY"

// loadSecretKey returns the key that seals tenants' registry logins at
// rest: from file when one is given, else from $BATON_SECRET_KEY, else
// from secret.key in the data directory, made there (readable by its owner
// only) the first time. Keys are 32 bytes written as 64 hex digits.
func loadSecretKey(dataDir, file string) ([]byte, error) {
	if file != "" {
		return readSecretKey(file)
	}
	if v := os.Getenv(SecretKeyEnv); v != "" {
		k, err := parseSecretKey(v)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", SecretKeyEnv, err)
		}
		return k, nil
	}
	path := filepath.Join(dataDir, "secret.key")
	k, err := readSecretKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k = make([]byte, orchestrator.SecretKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("make a secret key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readSecretKey(path) // made meanwhile by another start
	}
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	return k, nil
}

func readSecretKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	k, err := parseSecretKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	return k, nil
}

func parseSecretKey(s string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != orchestrator.SecretKeySize {
		return nil, fmt.Errorf("want %d hex digits (%d random bytes, e.g. from `openssl rand -hex %d`)", 2*orchestrator.SecretKeySize, orchestrator.SecretKeySize, orchestrator.SecretKeySize)
	}
	return k, nil
}

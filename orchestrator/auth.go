package orchestrator

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"sync"
)

// Keys maps API keys to tenants. Only SHA-256 hashes of the keys are held;
// a lookup compares against every hash in constant time.
type Keys struct {
	mu      sync.RWMutex
	entries []keyEntry
}

type keyEntry struct {
	hash   [32]byte
	tenant string
}

// NewKeys returns an empty key set.
func NewKeys() *Keys { return &Keys{} }

// NewAPIKey returns a fresh random key: "bk_" and 64 hex characters.
func NewAPIKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return "bk_" + hex.EncodeToString(b[:])
}

// HashKey returns the stored form of a key.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// Add lets the key whose hex SHA-256 is hash act as tenant.
func (k *Keys) Add(hash, tenant string) error {
	raw, err := hex.DecodeString(hash)
	if err != nil || len(raw) != sha256.Size {
		return fmt.Errorf("key hash for tenant %s: want 64 hex characters of SHA-256", tenant)
	}
	var e keyEntry
	copy(e.hash[:], raw)
	e.tenant = tenant
	k.mu.Lock()
	k.entries = append(k.entries, e)
	k.mu.Unlock()
	return nil
}

// Tenant returns the tenant a key belongs to.
func (k *Keys) Tenant(key string) (string, bool) {
	h := sha256.Sum256([]byte(key))
	k.mu.RLock()
	defer k.mu.RUnlock()
	found := ""
	for _, e := range k.entries {
		if subtle.ConstantTimeCompare(h[:], e.hash[:]) == 1 {
			found = e.tenant
		}
	}
	return found, found != ""
}

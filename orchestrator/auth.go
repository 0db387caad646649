package orchestrator

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
)

// Keys maps API keys to tenants, or to the cluster's administrator. Only
// SHA-256 hashes of the keys are held, in a map: a lookup costs one hash
// and one map probe however many tenants there are. Probing by hash leaks
// nothing a caller can use: the time it takes depends on the SHA-256 of
// the presented key, which says nothing about any stored key's bytes.
type Keys struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]Principal
}

// Principal is who a key authenticates: a tenant, or the administrator.
type Principal struct {
	Tenant string
	Admin  bool
}

// NewKeys returns an empty key set.
func NewKeys() *Keys { return &Keys{entries: map[[sha256.Size]byte]Principal{}} }

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
	if tenant == "" {
		return fmt.Errorf("key hash %.8s…: tenant is empty", hash)
	}
	return k.add(hash, Principal{Tenant: tenant})
}

// AddAdmin lets the key whose hex SHA-256 is hash administer the cluster
// (create tenants); it owns no workflows.
func (k *Keys) AddAdmin(hash string) error { return k.add(hash, Principal{Admin: true}) }

// add stores hash for p. A hash already stored keeps its first principal:
// one key never names two.
func (k *Keys) add(hash string, p Principal) error {
	var h [sha256.Size]byte
	if len(hash) != hex.EncodedLen(sha256.Size) {
		return fmt.Errorf("key hash %.8s…: want 64 hex characters of SHA-256", hash)
	}
	if _, err := hex.Decode(h[:], []byte(hash)); err != nil {
		return fmt.Errorf("key hash %.8s…: want 64 hex characters of SHA-256", hash)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.entries[h]; !ok {
		k.entries[h] = p
	}
	return nil
}

// Lookup returns whom a key authenticates.
func (k *Keys) Lookup(key string) (Principal, bool) {
	h := sha256.Sum256([]byte(key))
	k.mu.RLock()
	defer k.mu.RUnlock()
	p, ok := k.entries[h]
	return p, ok
}

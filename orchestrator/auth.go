package orchestrator

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"sync"
)

// Keys maps API keys to tenants, or to the cluster's administrator. Only
// SHA-256 hashes of the keys are held; a lookup compares against every
// hash in constant time.
type Keys struct {
	mu      sync.RWMutex
	entries []keyEntry
}

type keyEntry struct {
	hash   [32]byte
	tenant string // empty for an admin key
	admin  bool
}

// Principal is who a key authenticates: a tenant, or the administrator.
type Principal struct {
	Tenant string
	Admin  bool
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
	if tenant == "" {
		return fmt.Errorf("key hash %.8s…: tenant is empty", hash)
	}
	return k.add(hash, keyEntry{tenant: tenant})
}

// AddAdmin lets the key whose hex SHA-256 is hash administer the cluster
// (create tenants); it owns no workflows.
func (k *Keys) AddAdmin(hash string) error { return k.add(hash, keyEntry{admin: true}) }

func (k *Keys) add(hash string, e keyEntry) error {
	raw, err := hex.DecodeString(hash)
	if err != nil || len(raw) != sha256.Size {
		return fmt.Errorf("key hash %.8s…: want 64 hex characters of SHA-256", hash)
	}
	copy(e.hash[:], raw)
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, x := range k.entries {
		if x.hash == e.hash {
			return nil
		}
	}
	k.entries = append(k.entries, e)
	return nil
}

// Lookup returns whom a key authenticates. Every stored hash is compared,
// in constant time, whatever matches.
func (k *Keys) Lookup(key string) (Principal, bool) {
	h := sha256.Sum256([]byte(key))
	k.mu.RLock()
	defer k.mu.RUnlock()
	var found Principal
	ok := false
	for _, e := range k.entries {
		if subtle.ConstantTimeCompare(h[:], e.hash[:]) == 1 {
			found, ok = Principal{Tenant: e.tenant, Admin: e.admin}, true
		}
	}
	return found, ok
}

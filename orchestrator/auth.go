package orchestrator

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Keys maps API keys to tenants, or to the cluster's administrator. Only
// SHA-256 hashes of the keys are held, in a map: a lookup costs one hash
// and one map probe however many tenants there are. Probing by hash leaks
// nothing a caller can use: the time it takes depends on the SHA-256 of
// the presented key, which says nothing about any stored key's bytes.
//
// A tenant's keys can be replaced at any time (ReplaceTenant); the next
// lookup sees the change.
type Keys struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]Principal
	// bootstrap holds, per tenant whose keys came from outside the
	// key-value bucket (Bootstrap), what makes their replacement durable.
	bootstrap map[string]func() error

	// replacing serializes ReplaceTenant, so that the durable store and
	// entries change in the same order; lookups never wait on it.
	replacing sync.Mutex
}

// Principal is who a key authenticates: a tenant, or the administrator.
type Principal struct {
	Tenant string
	Admin  bool
}

// NewKeys returns an empty key set.
func NewKeys() *Keys {
	return &Keys{entries: map[[sha256.Size]byte]Principal{}, bootstrap: map[string]func() error{}}
}

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

// Bootstrap lets the keys whose hex SHA-256 are hashes act as tenant,
// keys that live outside the key-value bucket (the standalone's
// DATA/keys.json). They act until the tenant's keys are first replaced
// (ReplaceTenant): release is called then, after the new keys are stored
// durably and before they take effect here, and must keep these keys
// from coming back after a restart; from then on the tenant's record in
// the bucket alone holds its keys.
func (k *Keys) Bootstrap(tenant string, hashes []string, release func() error) error {
	if tenant == "" {
		return errors.New("bootstrap keys: tenant is empty")
	}
	if release == nil {
		return fmt.Errorf("bootstrap keys of tenant %s: no release", tenant)
	}
	for _, hash := range hashes {
		if err := k.Add(hash, tenant); err != nil {
			return err
		}
	}
	k.mu.Lock()
	k.bootstrap[tenant] = release
	k.mu.Unlock()
	return nil
}

// Bootstrapped reports whether tenant's keys are still the ones given to
// Bootstrap: such a tenant exists though the bucket may hold no record of
// it.
func (k *Keys) Bootstrapped(tenant string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	_, ok := k.bootstrap[tenant]
	return ok
}

// ReplaceTenant makes hashes the only keys of tenant (none revokes them
// all), effective from the next Lookup. store, called first, must make
// the change durable; if it fails nothing changes here. A bootstrapped
// tenant's keys are then released (see Bootstrap), and if that fails
// nothing changes here either. Replacements are serialized, so what is
// held here follows the order of the durable writes.
func (k *Keys) ReplaceTenant(tenant string, hashes []string, store func() error) error {
	if tenant == "" {
		return errors.New("replace keys: tenant is empty")
	}
	hs := make([][sha256.Size]byte, 0, len(hashes))
	for _, hash := range hashes {
		h, err := parseHash(hash)
		if err != nil {
			return err
		}
		hs = append(hs, h)
	}
	k.replacing.Lock()
	defer k.replacing.Unlock()
	k.mu.RLock()
	for _, h := range hs {
		if p, ok := k.entries[h]; ok && p != (Principal{Tenant: tenant}) {
			k.mu.RUnlock()
			return fmt.Errorf("replace keys of tenant %s: a new key is another principal's", tenant)
		}
	}
	release := k.bootstrap[tenant]
	k.mu.RUnlock()
	if err := store(); err != nil {
		return err
	}
	if release != nil {
		if err := release(); err != nil {
			return fmt.Errorf("release the bootstrap keys of tenant %s: %w", tenant, err)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.bootstrap, tenant)
	for h, p := range k.entries {
		if !p.Admin && p.Tenant == tenant && !slices.Contains(hs, h) {
			delete(k.entries, h)
		}
	}
	for _, h := range hs {
		k.entries[h] = Principal{Tenant: tenant}
	}
	return nil
}

// parseHash decodes a hex SHA-256.
func parseHash(hash string) ([sha256.Size]byte, error) {
	var h [sha256.Size]byte
	if len(hash) != hex.EncodedLen(sha256.Size) {
		return h, fmt.Errorf("key hash %.8s…: want 64 hex characters of SHA-256", hash)
	}
	if _, err := hex.Decode(h[:], []byte(hash)); err != nil {
		return h, fmt.Errorf("key hash %.8s…: want 64 hex characters of SHA-256", hash)
	}
	return h, nil
}

// add stores hash for p. A hash already stored keeps its first principal:
// one key never names two.
func (k *Keys) add(hash string, p Principal) error {
	h, err := parseHash(hash)
	if err != nil {
		return err
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

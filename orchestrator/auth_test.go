package orchestrator

import (
	"fmt"
	"strings"
	"testing"
)

func TestKeys(t *testing.T) {
	k := NewKeys()
	tenantKey, otherKey, adminKey := NewAPIKey(), NewAPIKey(), NewAPIKey()
	if err := k.Add(HashKey(tenantKey), "acme"); err != nil {
		t.Fatal(err)
	}
	if err := k.Add(HashKey(otherKey), "globex"); err != nil {
		t.Fatal(err)
	}
	if err := k.AddAdmin(HashKey(adminKey)); err != nil {
		t.Fatal(err)
	}
	// A hash stored again keeps its first principal.
	if err := k.Add(HashKey(tenantKey), "globex"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, key string
		want      Principal
		ok        bool
	}{
		{"tenant", tenantKey, Principal{Tenant: "acme"}, true},
		{"other tenant", otherKey, Principal{Tenant: "globex"}, true},
		{"admin", adminKey, Principal{Admin: true}, true},
		{"unknown", NewAPIKey(), Principal{}, false},
		{"the hash is not the key", HashKey(tenantKey), Principal{}, false},
		{"empty", "", Principal{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := k.Lookup(tc.key)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Lookup = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestKeysRejectBadHashes(t *testing.T) {
	good := HashKey("k")
	for _, tc := range []struct{ name, hash string }{
		{"empty", ""},
		{"short", good[:63]},
		{"long", good + "0"},
		{"longer by a byte", good + "00"},
		{"not hex", strings.Repeat("zz", 32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := NewKeys()
			err := k.Add(tc.hash, "acme")
			if err == nil || !strings.Contains(err.Error(), "want 64 hex characters") {
				t.Fatalf("Add(%q) = %v, want an error naming the format", tc.hash, err)
			}
			if err := k.AddAdmin(tc.hash); err == nil {
				t.Fatalf("AddAdmin(%q) accepted", tc.hash)
			}
			if len(k.entries) != 0 {
				t.Fatalf("a refused hash was stored: %v", k.entries)
			}
		})
	}
	if err := NewKeys().Add(good, ""); err == nil {
		t.Fatal("a key with no tenant was accepted")
	}
}

// BenchmarkKeysLookup authenticates one request's key among n tenants'
// keys, as every API call does:
//
//	go test -run '^$' -bench KeysLookup ./orchestrator/
func BenchmarkKeysLookup(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			k := NewKeys()
			var key string
			for i := range n {
				key = NewAPIKey()
				if err := k.Add(HashKey(key), fmt.Sprintf("t%d", i)); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if _, ok := k.Lookup(key); !ok {
					b.Fatal("key not found")
				}
			}
		})
	}
}

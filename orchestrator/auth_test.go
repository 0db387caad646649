package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/client"
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

// TestKeysReplaceTenant replaces one tenant's keys in a set holding two
// tenants, a bootstrap tenant and the admin: the replaced keys stop
// working from the next lookup, the new ones work, nobody else's change,
// and a failed store or release changes nothing.
func TestKeysReplaceTenant(t *testing.T) {
	errStore, errRelease := errors.New("store failed"), errors.New("release failed")
	for _, tc := range []struct {
		name       string
		tenant     string
		newKeys    int  // fresh keys to replace the tenant's with
		othersKey  bool // replace with globex's key instead
		storeErr   error
		releaseErr error
		wantErr    error // the error wanted, wrapped
		refused    bool  // refused (any error) before storing
		changed    bool  // the replacement took effect
		released   int   // how many times the bootstrap was released
	}{
		{name: "rotate", tenant: "acme", newKeys: 1, changed: true},
		{name: "two new keys", tenant: "acme", newKeys: 2, changed: true},
		{name: "revoke", tenant: "acme", changed: true},
		{name: "store fails", tenant: "acme", newKeys: 1, storeErr: errStore, wantErr: errStore},
		{name: "another principal's key", tenant: "acme", othersKey: true, refused: true},
		{name: "bootstrap rotate", tenant: "default", newKeys: 1, changed: true, released: 1},
		{name: "bootstrap revoke", tenant: "default", changed: true, released: 1},
		{name: "bootstrap release fails", tenant: "default", newKeys: 1, releaseErr: errRelease, wantErr: errRelease, released: 1},
		{name: "bootstrap store fails", tenant: "default", newKeys: 1, storeErr: errStore, wantErr: errStore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := NewKeys()
			old := map[string]string{"acme": NewAPIKey(), "globex": NewAPIKey(), "default": NewAPIKey()}
			adminKey := NewAPIKey()
			for _, tenant := range []string{"acme", "globex"} {
				if err := k.Add(HashKey(old[tenant]), tenant); err != nil {
					t.Fatal(err)
				}
			}
			if err := k.AddAdmin(HashKey(adminKey)); err != nil {
				t.Fatal(err)
			}
			released := 0
			if err := k.Bootstrap("default", []string{HashKey(old["default"])}, func() error { released++; return tc.releaseErr }); err != nil {
				t.Fatal(err)
			}
			var fresh, hashes []string
			for range tc.newKeys {
				key := NewAPIKey()
				fresh, hashes = append(fresh, key), append(hashes, HashKey(key))
			}
			if tc.othersKey {
				hashes = []string{HashKey(old["globex"])}
			}
			stored := 0
			err := k.ReplaceTenant(tc.tenant, hashes, func() error { stored++; return tc.storeErr })
			switch {
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("ReplaceTenant = %v, want %v", err, tc.wantErr)
			case tc.refused && (err == nil || stored != 0):
				t.Fatalf("ReplaceTenant = %v after %d stores, want refused before storing", err, stored)
			case tc.wantErr == nil && !tc.refused && err != nil:
				t.Fatalf("ReplaceTenant: %v", err)
			}
			if released != tc.released {
				t.Errorf("released %d times, want %d", released, tc.released)
			}
			if got := k.Bootstrapped("default"); got != (tc.tenant != "default" || !tc.changed) {
				t.Errorf("Bootstrapped(default) = %v after the replacement", got)
			}
			check := func(what, key string, want Principal, ok bool) {
				t.Helper()
				if !ok {
					want = Principal{}
				}
				if got, gotOK := k.Lookup(key); got != want || gotOK != ok {
					t.Errorf("%s: Lookup = %+v, %v; want %+v, %v", what, got, gotOK, want, ok)
				}
			}
			for tenant, key := range old {
				check(tenant+"'s old key", key, Principal{Tenant: tenant}, tenant != tc.tenant || !tc.changed)
			}
			check("the admin key", adminKey, Principal{Admin: true}, true)
			for i, key := range fresh {
				check(fmt.Sprintf("new key %d", i), key, Principal{Tenant: tc.tenant}, tc.changed)
			}
			// A bootstrap tenant is released once: later replacements
			// store only.
			if tc.changed && tc.tenant == "default" {
				if err := k.ReplaceTenant("default", nil, func() error { return nil }); err != nil || released != 1 {
					t.Errorf("a second replacement: %v, released %d times; want released once", err, released)
				}
			}
		})
	}
}

// runOrchestrator starts an orchestrator on nc with keys and serves its
// API; stop ends both, as a restart would.
func runOrchestrator(t *testing.T, nc *nats.Conn, keys *Keys) (url string, stop func()) {
	t.Helper()
	o, err := New(context.Background(), Config{Conn: nc, Keys: keys, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(ctx) }()
	srv := httptest.NewServer(o.Handler())
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			srv.Close()
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return srv.URL, stop
}

// TestTenantKeysRotateAndRevoke rotates and revokes tenants' keys over
// the API of an orchestrator on real embedded NATS: a replaced key gets
// 401 on the very next request and the new one works; only the admin may
// do it (401 without a key, 403 with a tenant's), and an unknown tenant is
// 404. Restarted on the same bucket, with the bootstrap keys the
// standalone would load, the orchestrator keeps every change, including
// the bootstrap tenant's.
func TestTenantKeysRotateAndRevoke(t *testing.T) {
	ctx := context.Background()
	nc := testenv.NATS(t)
	adminKey, defaultKey := NewAPIKey(), NewAPIKey()
	// What the standalone's keys.json would hold: the bootstrap keys, and
	// whether the default tenant's are released.
	defaultReleased := false
	bootKeys := func() *Keys {
		k := NewKeys()
		if err := k.AddAdmin(HashKey(adminKey)); err != nil {
			t.Fatal(err)
		}
		if !defaultReleased {
			if err := k.Bootstrap("default", []string{HashKey(defaultKey)}, func() error { defaultReleased = true; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		return k
	}
	url, stop := runOrchestrator(t, nc, bootKeys())
	admin := &client.Client{URL: url, Token: adminKey}
	works := func(what, key string) {
		t.Helper()
		if _, err := (&client.Client{URL: url, Token: key}).Workflows(ctx); err != nil {
			t.Errorf("%s: %v, want it to work", what, err)
		}
	}
	fails := func(what, key string) {
		t.Helper()
		_, err := (&client.Client{URL: url, Token: key}).Workflows(ctx)
		if ce := (*client.Error)(nil); !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized {
			t.Errorf("%s: %v, want 401", what, err)
		}
	}
	acme, err := admin.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	globex, err := admin.CreateTenant(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.CreateTenant(ctx, "default")
	if ce := (*client.Error)(nil); !errors.As(err, &ce) || ce.Status != http.StatusConflict {
		t.Errorf("creating the bootstrap tenant default: %v, want 409", err)
	}

	for _, tc := range []struct {
		name, token, tenant string
		want                int
	}{
		{"no key", "", "acme", http.StatusUnauthorized},
		{"a revoked-looking key", NewAPIKey(), "acme", http.StatusUnauthorized},
		{"a tenant's key", acme.Key, "acme", http.StatusForbidden},
		{"a tenant's key on another tenant", acme.Key, "globex", http.StatusForbidden},
		{"the default tenant's key", defaultKey, "default", http.StatusForbidden},
		{"an unknown tenant", adminKey, "nobody", http.StatusNotFound},
		{"a name no tenant can have", adminKey, "No_Such", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &client.Client{URL: url, Token: tc.token}
			_, rotErr := c.RotateTenantKey(ctx, tc.tenant)
			revErr := c.RevokeTenantKeys(ctx, tc.tenant)
			for op, err := range map[string]error{"rotate": rotErr, "revoke": revErr} {
				var ce *client.Error
				if !errors.As(err, &ce) || ce.Status != tc.want {
					t.Errorf("%s %s: %v, want HTTP %d", op, tc.tenant, err, tc.want)
					continue
				}
				if tc.want == http.StatusNotFound && !strings.Contains(ce.Message, tc.tenant) {
					t.Errorf("%s %s: %q, want a message naming the tenant", op, tc.tenant, ce.Message)
				}
			}
		})
	}
	// None of the refusals changed a key.
	works("acme's key after refused changes", acme.Key)
	works("globex's key after refused changes", globex.Key)
	works("the default key after refused changes", defaultKey)

	rotated, err := admin.RotateTenantKey(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Name != "acme" || rotated.Keys != 1 || !strings.HasPrefix(rotated.Key, "bk_") || rotated.Key == acme.Key {
		t.Fatalf("rotate acme = %+v, want one new bk_ key", rotated)
	}
	fails("acme's old key after a rotation", acme.Key)
	works("acme's new key", rotated.Key)
	works("globex's key after acme's rotation", globex.Key)

	if err := admin.RevokeTenantKeys(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	fails("globex's key after a revocation", globex.Key)
	back, err := admin.RotateTenantKey(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	works("globex's key after a revocation and a rotation", back.Key)
	if err := admin.RevokeTenantKeys(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	fails("globex's rotated key after a second revocation", back.Key)

	// The bootstrap tenant: its key is released on its first rotation.
	newDefault, err := admin.RotateTenantKey(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if !defaultReleased {
		t.Error("rotating the default tenant did not release its bootstrap key")
	}
	fails("the bootstrap default key after a rotation", defaultKey)
	works("the default tenant's new key", newDefault.Key)

	list, err := admin.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"acme": 1, "default": 1, "globex": 0}
	for _, tv := range list {
		if tv.Keys != want[tv.Name] || tv.Key != "" {
			t.Errorf("listed %+v, want %d keys and no key shown", tv, want[tv.Name])
		}
		delete(want, tv.Name)
	}
	if len(want) != 0 {
		t.Errorf("tenants %v not listed", want)
	}

	// A restart on the same bucket keeps every change.
	stop()
	url, _ = runOrchestrator(t, nc, bootKeys())
	works("acme's rotated key after a restart", rotated.Key)
	fails("acme's old key after a restart", acme.Key)
	fails("globex's revoked key after a restart", back.Key)
	fails("globex's first key after a restart", globex.Key)
	works("the default tenant's rotated key after a restart", newDefault.Key)
	fails("the bootstrap default key after a restart", defaultKey)
	admin.URL = url
	if again, err := admin.RotateTenantKey(ctx, "globex"); err != nil {
		t.Errorf("rotate a revoked tenant after a restart: %v", err)
	} else {
		works("globex's key after a restart and a rotation", again.Key)
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

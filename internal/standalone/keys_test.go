package standalone

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"baton.dev/baton/orchestrator"
)

// readKeys returns the key file's contents and its records.
func readKeys(t *testing.T, dir string) (string, keyFile) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		t.Fatal(err)
	}
	return string(data), kf
}

// TestLoadKeysKeepsReleasedTenantsOut makes the bootstrap keys, replaces
// the default tenant's as a rotation does, and loads the file again as a
// restart does: the default tenant's bootstrap key is gone from the file
// and does not act again, no key is made for it, and the admin key stays.
func TestLoadKeysKeepsReleasedTenantsOut(t *testing.T) {
	dir := t.TempDir()
	keys, token, admin, err := loadKeys(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	data, kf := readKeys(t, dir)
	if len(kf.Keys) != 2 || len(kf.Released) != 0 || strings.Contains(data, token) || strings.Contains(data, admin) {
		t.Fatalf("keys.json after the first start: %s; want two hashes, no key", data)
	}
	if p, ok := keys.Lookup(token); !ok || p.Tenant != DefaultTenant || !keys.Bootstrapped(DefaultTenant) {
		t.Fatalf("the default key: %+v, %v; want the bootstrapped default tenant", p, ok)
	}

	// Known keys are kept, and nothing is added.
	keys, gotToken, gotAdmin, err := loadKeys(dir, token, admin)
	if err != nil || gotToken != token || gotAdmin != admin {
		t.Fatalf("reload with the known keys: %v; got other keys", err)
	}
	if _, kf := readKeys(t, dir); len(kf.Keys) != 2 {
		t.Fatalf("reload with the known keys added records: %+v", kf.Keys)
	}

	// A rotation: the new key is stored elsewhere (the bucket); the file
	// lets the old one go.
	rotated := orchestrator.NewAPIKey()
	stored := false
	if err := keys.ReplaceTenant(DefaultTenant, []string{orchestrator.HashKey(rotated)}, func() error { stored = true; return nil }); err != nil {
		t.Fatal(err)
	}
	data, kf = readKeys(t, dir)
	if !stored || len(kf.Keys) != 1 || !kf.Keys[0].Admin || !slices.Equal(kf.Released, []string{DefaultTenant}) || strings.Contains(data, rotated) {
		t.Fatalf("keys.json after the default tenant's rotation: %s; want only the admin's hash, default released", data)
	}
	if fi, err := os.Stat(filepath.Join(dir, "keys.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("keys.json after the rewrite: %v, %v; want mode 0600", fi.Mode(), err)
	}

	for _, tc := range []struct {
		name, known string
	}{
		{"with the old default key", token},
		{"with the rotated key", rotated},
		{"with no default key", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, gotToken, gotAdmin, err := loadKeys(dir, tc.known, admin)
			if err != nil {
				t.Fatal(err)
			}
			if gotToken != tc.known || gotAdmin != admin {
				t.Errorf("loadKeys returned other keys than the known ones")
			}
			if _, ok := keys.Lookup(token); ok {
				t.Error("the released bootstrap key acts again after a restart")
			}
			if keys.Bootstrapped(DefaultTenant) {
				t.Error("the released default tenant is bootstrapped again")
			}
			if p, ok := keys.Lookup(admin); !ok || !p.Admin {
				t.Error("the admin key stopped acting")
			}
			if _, kf := readKeys(t, dir); len(kf.Keys) != 1 {
				t.Errorf("a restart added keys for a released tenant: %+v", kf.Keys)
			}
		})
	}
}

// TestLoadKeysTakesAnotherReplicasKeys: a data directory with no keys
// yet takes the known keys as given (another replica's, passed on in the
// environment); one that has keys makes new ones for keys it does not
// know.
func TestLoadKeysTakesAnotherReplicasKeys(t *testing.T) {
	first := t.TempDir()
	_, token, admin, err := loadKeys(first, "", "")
	if err != nil {
		t.Fatal(err)
	}
	second := t.TempDir()
	keys, gotToken, gotAdmin, err := loadKeys(second, token, admin)
	if err != nil {
		t.Fatal(err)
	}
	if gotToken != token || gotAdmin != admin {
		t.Fatal("a fresh data directory made new keys instead of taking the known ones")
	}
	if p, ok := keys.Lookup(admin); !ok || !p.Admin {
		t.Error("the admin key taken over does not act")
	}
	if p, ok := keys.Lookup(token); !ok || p.Tenant != DefaultTenant {
		t.Error("the default tenant's key taken over does not act")
	}
	stranger := orchestrator.NewAPIKey()
	_, gotToken, _, err = loadKeys(first, stranger, admin)
	if err != nil {
		t.Fatal(err)
	}
	if gotToken == stranger {
		t.Error("a data directory with keys took an unknown key as given")
	}
}

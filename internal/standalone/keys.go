package standalone

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"baton.dev/baton/orchestrator"
)

// DefaultTenant owns what `baton up` deploys.
const DefaultTenant = "default"

// keyFile holds the hashes of the bootstrap API keys (the admin's and the
// default tenant's), never the keys themselves. Tenants made later are
// definitions in the key-value bucket; so is the default tenant once an
// admin has rotated or revoked its keys.
type keyFile struct {
	Keys []keyRecord `json:"keys"`
	// Released names the tenants whose keys here an admin has rotated or
	// revoked: from then on their record in the key-value bucket alone
	// holds their keys, and no key is made for them here again.
	Released []string `json:"released,omitempty"`
}

type keyRecord struct {
	Tenant string `json:"tenant,omitempty"`
	Admin  bool   `json:"admin,omitempty"`
	Hash   string `json:"sha256"`
}

// loadKeys reads DATA/keys.json and returns the key set with the default
// tenant's key and the admin key: the ones known, if they are stored, or
// else new keys whose hashes are added to the file. Once the default
// tenant's keys are released (rotated or revoked through the API), the
// file holds none of them and makes none: the key returned for it is
// knownTenant as given, which the key-value bucket's record may or may not
// accept. A data directory with no keys yet takes the known ones as they
// are given: another orchestrator replica's, passed on to this one.
func loadKeys(dataDir, knownTenant, knownAdmin string) (*orchestrator.Keys, string, string, error) {
	return openKeys(dataDir, knownTenant, knownAdmin, true)
}

// loadStoredKeys is loadKeys making no new key: the keys of a data
// directory another orchestrator replica shares, which made them (a key
// it does not know comes back empty).
func loadStoredKeys(dataDir, knownTenant, knownAdmin string) (*orchestrator.Keys, string, string, error) {
	return openKeys(dataDir, knownTenant, knownAdmin, false)
}

// storedKeys reports whether dataDir's keys.json holds keys already.
func storedKeys(dataDir string) bool {
	kf, err := readKeyFile(filepath.Join(dataDir, "keys.json"))
	return err == nil && (len(kf.Keys) > 0 || len(kf.Released) > 0)
}

func openKeys(dataDir, knownTenant, knownAdmin string, makeNew bool) (*orchestrator.Keys, string, string, error) {
	path := filepath.Join(dataDir, "keys.json")
	kf, err := readKeyFile(path)
	if err != nil {
		return nil, "", "", err
	}
	changed := false
	fresh := len(kf.Keys) == 0 && len(kf.Released) == 0
	keep := func(known string, rec keyRecord) string {
		if known != "" && kf.has(orchestrator.HashKey(known), rec) {
			return known
		}
		if known != "" && fresh && strings.HasPrefix(known, "bk_") {
			rec.Hash = orchestrator.HashKey(known)
			kf.Keys = append(kf.Keys, rec)
			changed = true
			return known
		}
		if !makeNew {
			return ""
		}
		key := orchestrator.NewAPIKey()
		rec.Hash = orchestrator.HashKey(key)
		kf.Keys = append(kf.Keys, rec)
		changed = true
		return key
	}
	token := knownTenant
	if !slices.Contains(kf.Released, DefaultTenant) {
		token = keep(knownTenant, keyRecord{Tenant: DefaultTenant})
	}
	admin := keep(knownAdmin, keyRecord{Admin: true})
	if changed {
		if err := writeKeyFile(path, kf); err != nil {
			return nil, "", "", err
		}
	}
	keys := orchestrator.NewKeys()
	byTenant := map[string][]string{}
	var tenants []string
	for _, k := range kf.Keys {
		switch {
		case k.Admin:
			if err := keys.AddAdmin(k.Hash); err != nil {
				return nil, "", "", fmt.Errorf("%s: %w", path, err)
			}
		case slices.Contains(kf.Released, k.Tenant):
			// Released tenants' keys are the bucket's alone.
		default:
			if _, ok := byTenant[k.Tenant]; !ok {
				tenants = append(tenants, k.Tenant)
			}
			byTenant[k.Tenant] = append(byTenant[k.Tenant], k.Hash)
		}
	}
	for _, tenant := range tenants {
		release := func() error { return releaseTenant(path, tenant) }
		if err := keys.Bootstrap(tenant, byTenant[tenant], release); err != nil {
			return nil, "", "", fmt.Errorf("%s: %w", path, err)
		}
	}
	return keys, token, admin, nil
}

// releaseTenant removes tenant's keys from the key file and records that
// they are released, so that they do not come back after a restart: the
// tenant's keys are in the key-value bucket from then on.
func releaseTenant(path, tenant string) error {
	kf, err := readKeyFile(path)
	if err != nil {
		return err
	}
	kf.Keys = slices.DeleteFunc(kf.Keys, func(k keyRecord) bool { return !k.Admin && k.Tenant == tenant })
	if !slices.Contains(kf.Released, tenant) {
		kf.Released = append(kf.Released, tenant)
	}
	return writeKeyFile(path, kf)
}

// readKeyFile reads the key file; a missing one is empty.
func readKeyFile(path string) (keyFile, error) {
	var kf keyFile
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return kf, nil
	case err != nil:
		return kf, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &kf); err != nil {
		return kf, fmt.Errorf("%s: %w", path, err)
	}
	return kf, nil
}

// writeKeyFile replaces the key file atomically and durably: a crash
// leaves the old file or the new one, never a part, and a revocation
// written is not lost.
func writeKeyFile(path string, kf keyFile) error {
	out, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".keys-*.json")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // after the rename, there is nothing to remove
	_, err = f.Write(out)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("write %s: sync %s: %w", path, dir, err)
		}
	}
	return nil
}

// has reports whether the file holds hash for the same role as rec.
func (kf keyFile) has(hash string, rec keyRecord) bool {
	for _, k := range kf.Keys {
		if k.Hash == hash && k.Admin == rec.Admin && k.Tenant == rec.Tenant {
			return true
		}
	}
	return false
}

// memTotal reads the machine's memory from /proc/meminfo.
func memTotal() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/meminfo: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("/proc/meminfo: no MemTotal")
}

package standalone

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"baton.dev/baton/orchestrator"
)

// DefaultTenant owns what `baton up` deploys.
const DefaultTenant = "default"

// keyFile holds the hashes of the bootstrap API keys (the admin's and the
// default tenant's), never the keys themselves. Tenants made later are
// definitions in the key-value bucket.
type keyFile struct {
	Keys []keyRecord `json:"keys"`
}

type keyRecord struct {
	Tenant string `json:"tenant,omitempty"`
	Admin  bool   `json:"admin,omitempty"`
	Hash   string `json:"sha256"`
}

// loadKeys reads DATA/keys.json and returns the key set with the default
// tenant's key and the admin key: the ones known, if they are stored, or
// else new keys whose hashes are added to the file.
func loadKeys(dataDir, knownTenant, knownAdmin string) (*orchestrator.Keys, string, string, error) {
	path := filepath.Join(dataDir, "keys.json")
	var kf keyFile
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, "", "", fmt.Errorf("read %s: %w", path, err)
	default:
		if err := json.Unmarshal(data, &kf); err != nil {
			return nil, "", "", fmt.Errorf("%s: %w", path, err)
		}
	}
	changed := false
	keep := func(known string, rec keyRecord) string {
		if known != "" && kf.has(orchestrator.HashKey(known), rec) {
			return known
		}
		key := orchestrator.NewAPIKey()
		rec.Hash = orchestrator.HashKey(key)
		kf.Keys = append(kf.Keys, rec)
		changed = true
		return key
	}
	token := keep(knownTenant, keyRecord{Tenant: DefaultTenant})
	admin := keep(knownAdmin, keyRecord{Admin: true})
	if changed {
		out, _ := json.MarshalIndent(kf, "", "  ")
		if err := os.WriteFile(path, out, 0o600); err != nil {
			return nil, "", "", fmt.Errorf("write %s: %w", path, err)
		}
	}
	keys := orchestrator.NewKeys()
	for _, k := range kf.Keys {
		add := func() error { return keys.Add(k.Hash, k.Tenant) }
		if k.Admin {
			add = func() error { return keys.AddAdmin(k.Hash) }
		}
		if err := add(); err != nil {
			return nil, "", "", fmt.Errorf("%s: %w", path, err)
		}
	}
	return keys, token, admin, nil
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

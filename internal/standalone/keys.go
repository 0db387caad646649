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

// keyFile holds the hashes of the API keys, never the keys themselves.
type keyFile struct {
	Keys []struct {
		Tenant string `json:"tenant"`
		Hash   string `json:"sha256"`
	} `json:"keys"`
}

// loadKeys reads DATA/keys.json and returns the key set with the default
// tenant's key: known, if it is one of the stored keys, or else a new key
// whose hash is added to the file.
func loadKeys(dataDir, known string) (*orchestrator.Keys, string, error) {
	path := filepath.Join(dataDir, "keys.json")
	var kf keyFile
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	default:
		if err := json.Unmarshal(data, &kf); err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
	}
	token := known
	if known == "" || !hasHash(kf, orchestrator.HashKey(known)) {
		token = orchestrator.NewAPIKey()
		kf.Keys = append(kf.Keys, struct {
			Tenant string `json:"tenant"`
			Hash   string `json:"sha256"`
		}{DefaultTenant, orchestrator.HashKey(token)})
		out, _ := json.MarshalIndent(kf, "", "  ")
		if err := os.WriteFile(path, out, 0o600); err != nil {
			return nil, "", fmt.Errorf("write %s: %w", path, err)
		}
	}
	keys := orchestrator.NewKeys()
	for _, k := range kf.Keys {
		if err := keys.Add(k.Hash, k.Tenant); err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
	}
	return keys, token, nil
}

func hasHash(kf keyFile, hash string) bool {
	for _, k := range kf.Keys {
		if k.Hash == hash {
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

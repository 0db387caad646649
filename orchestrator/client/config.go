package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Config is what the CLI needs to reach an API: written by `baton up`,
// overridden by BATON_URL and BATON_TOKEN.
type Config struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	// AdminToken is the cluster's admin key, for `baton tenants`
	// (BATON_ADMIN_TOKEN overrides it).
	AdminToken string `json:"adminToken,omitempty"`
}

// ConfigPath is $BATON_CONFIG, else $XDG_CONFIG_HOME/baton/config.json,
// else ~/.config/baton/config.json.
func ConfigPath() (string, error) {
	if p := os.Getenv("BATON_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("locate the config directory: %w", err)
	}
	return filepath.Join(dir, "baton", "config.json"), nil
}

// LoadConfig reads the config file, if any, and applies BATON_URL and
// BATON_TOKEN on top.
func LoadConfig() (Config, error) {
	var c Config
	path, err := ConfigPath()
	if err != nil {
		return c, err
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return c, fmt.Errorf("read %s: %w", path, err)
	default:
		if err := json.Unmarshal(data, &c); err != nil {
			return c, fmt.Errorf("%s: %w", path, err)
		}
	}
	if v := os.Getenv("BATON_URL"); v != "" {
		c.URL = v
	}
	if v := os.Getenv("BATON_TOKEN"); v != "" {
		c.Token = v
	}
	if v := os.Getenv("BATON_ADMIN_TOKEN"); v != "" {
		c.AdminToken = v
	}
	if c.URL == "" {
		return c, fmt.Errorf("no Baton API configured: run `baton up`, or set BATON_URL and BATON_TOKEN (config file %s)", path)
	}
	return c, nil
}

// SaveConfig writes c, readable by its owner only, and returns the path.
func SaveConfig(c Config) (string, error) {
	path, err := ConfigPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode config: %w", err)
	}
	// Through a temporary file and a rename: a crash leaves the old
	// configuration or the new one. (localfs.WriteFileAtomic does the
	// same; the client links nothing of internal/.)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

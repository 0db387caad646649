package orchestrator

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/nats-io/nats.go/jetstream"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/registry"
	"baton.dev/baton/worker"
)

// loginsBucket holds tenants' registry logins, sealed.
const loginsBucket = "baton_registry_logins"

// SecretKeySize is the size of the key that seals registry logins at
// rest (AES-256).
const SecretKeySize = 32

// ErrNoSecretKey is returned when logins are asked of an orchestrator that
// was given no key to seal them with.
var ErrNoSecretKey = errors.New("this orchestrator has no secret key to seal registry logins with (--secret-key-file)")

// Logins are the tenants' registry logins: each tenant's own, used only
// for that tenant's images. At rest (the JetStream bucket) each is sealed
// with AES-256-GCM under the operator's key, bound to its tenant and host
// (the additional data), so a record copied to another tenant's key does
// not open. In memory they are open, for resolving at deploy and for the
// one pull a creation needs; they are never logged or returned by the API.
type Logins struct {
	kv     jetstream.KeyValue
	aead   cipher.AEAD // nil: no key; logins cannot be stored
	log    *slog.Logger
	follow *follower // until Lead

	mu sync.RWMutex
	m  map[string]map[string]login // tenant -> host -> login
}

type login struct {
	cred    registry.Credential
	created time.Time
}

// sealedLogin is a login as the bucket holds it.
type sealedLogin struct {
	Tenant  string    `json:"tenant"`
	Host    string    `json:"host"`
	Created time.Time `json:"created"`
	// Sealed is nonce || AES-GCM(username, password JSON), hex.
	Sealed string `json:"sealed"`
}

// OpenLogins opens the bucket and opens every login in it with key (nil:
// no key; then no login can be stored or used, and any stored one is
// reported).
func OpenLogins(ctx context.Context, js jetstream.JetStream, key []byte, log *slog.Logger) (*Logins, error) {
	l := &Logins{log: log, m: map[string]map[string]login{}}
	if key != nil {
		if len(key) != SecretKeySize {
			return nil, fmt.Errorf("secret key: %d bytes, want %d", len(key), SecretKeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		if l.aead, err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: loginsBucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("open key-value bucket %s: %w", loginsBucket, err)
	}
	l.kv = kv
	if err := l.checkKey(ctx, key); err != nil {
		return nil, err
	}
	if l.follow, err = follow(ctx, kv, l.log, l.apply); err != nil {
		return nil, err
	}
	return l, nil
}

// Lead applies every change the bucket holds and stops following it: this
// process is its one writer from then on.
func (l *Logins) Lead(ctx context.Context) error { return l.follow.catchUp(ctx) }

// Close stops following the bucket.
func (l *Logins) Close() { l.follow.stop() }

// apply takes one change of the bucket into memory: a login stored or
// removed.
func (l *Logins) apply(e jetstream.KeyValueEntry) {
	k := e.Key()
	if k == keyCheckKey {
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		l.mu.Lock()
		defer l.mu.Unlock()
		for tenant, hosts := range l.m {
			for host := range hosts {
				if loginKey(tenant, host) == k {
					delete(hosts, host)
				}
			}
		}
		return
	}
	var s sealedLogin
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		l.log.Error("registry logins: skipping an unreadable record", "key", k, "err", err)
		return
	}
	cred, err := l.open(s)
	if err != nil {
		l.log.Error("registry logins: a stored login does not open with this secret key; its tenant must add it again", "tenant", s.Tenant, "host", s.Host, "err", err)
		return
	}
	l.remember(s.Tenant, s.Host, login{cred: cred, created: s.Created})
}

// keyCheckKey is the bucket's entry that names the secret key the logins
// are sealed with: an HMAC of a fixed message under it, never the key.
const keyCheckKey = "key-check"

// ErrSecretKeyMismatch means this orchestrator's secret key is not the one
// that sealed the stored logins: another replica's, or a lost one.
var ErrSecretKeyMismatch = errors.New("the secret key is not the one the stored registry logins are sealed with")

// checkKey compares key with the one the bucket's logins are sealed with
// (recording it on first use), so that orchestrator replicas given
// different keys refuse to start rather than lose every login at a
// failover.
func (l *Logins) checkKey(ctx context.Context, key []byte) error {
	if key == nil {
		return nil
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("baton registry logins key check"))
	sum := hex.EncodeToString(mac.Sum(nil))
	e, err := l.kv.Get(ctx, keyCheckKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err := l.kv.Create(ctx, keyCheckKey, []byte(sum))
		if errors.Is(err, jetstream.ErrKeyExists) {
			return l.checkKey(ctx, key) // another replica recorded it first
		}
		if err != nil {
			return fmt.Errorf("record the secret key's check in bucket %s: %w", loginsBucket, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read the secret key's check from bucket %s: %w", loginsBucket, err)
	case !hmac.Equal(e.Value(), []byte(sum)):
		return fmt.Errorf("secret key (BATON_SECRET_KEY, --secret-key-file or secret.key in --data): %w: give every orchestrator replica the same key", ErrSecretKeyMismatch)
	}
	return nil
}

func loginKey(tenant, host string) string {
	sum := sha256.Sum256([]byte(host))
	return "login." + tenant + "." + hex.EncodeToString(sum[:12])
}

func additionalData(tenant, host string) []byte { return []byte(tenant + "\x00" + host) }

func (l *Logins) seal(tenant, host string, c registry.Credential) (string, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, l.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return hex.EncodeToString(l.aead.Seal(nonce, nonce, plain, additionalData(tenant, host))), nil
}

func (l *Logins) open(s sealedLogin) (registry.Credential, error) {
	var c registry.Credential
	if l.aead == nil {
		return c, ErrNoSecretKey
	}
	b, err := hex.DecodeString(s.Sealed)
	if err != nil || len(b) < l.aead.NonceSize() {
		return c, errors.New("malformed sealed login")
	}
	plain, err := l.aead.Open(nil, b[:l.aead.NonceSize()], b[l.aead.NonceSize():], additionalData(s.Tenant, s.Host))
	if err != nil {
		return c, errors.New("the seal does not open (another key, or another tenant's record)")
	}
	return c, json.Unmarshal(plain, &c)
}

func (l *Logins) remember(tenant, host string, lg login) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m[tenant] == nil {
		l.m[tenant] = map[string]login{}
	}
	l.m[tenant][host] = lg
}

// CheckHost says whether host is a registry host as image references name
// them (host or host:port).
func CheckHost(host string) error {
	named, err := reference.ParseNormalizedNamed(host + "/x")
	if err != nil || reference.Domain(named) != host || !strings.ContainsAny(host, ".:") && host != "localhost" {
		return fmt.Errorf("registry host %q: want a host as image references name it, like registry.example.com or 10.0.0.5:5000", host)
	}
	return nil
}

// Put stores tenant's login to host, replacing any.
func (l *Logins) Put(ctx context.Context, tenant, host string, c registry.Credential) error {
	if l.aead == nil {
		return ErrNoSecretKey
	}
	if err := CheckHost(host); err != nil {
		return err
	}
	sealed, err := l.seal(tenant, host, c)
	if err != nil {
		return fmt.Errorf("seal the login: %w", err)
	}
	s := sealedLogin{Tenant: tenant, Host: host, Created: time.Now().UTC(), Sealed: sealed}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if _, err := l.kv.Put(ctx, loginKey(tenant, host), data); err != nil {
		return fmt.Errorf("store the login to %s: %w", host, err)
	}
	l.remember(tenant, host, login{cred: c, created: s.Created})
	return nil
}

// Delete removes tenant's login to host; false when there was none.
func (l *Logins) Delete(ctx context.Context, tenant, host string) (bool, error) {
	l.mu.RLock()
	_, ok := l.m[tenant][host]
	l.mu.RUnlock()
	if !ok {
		return false, nil
	}
	if err := l.kv.Delete(ctx, loginKey(tenant, host)); err != nil {
		return true, fmt.Errorf("delete the login to %s: %w", host, err)
	}
	l.mu.Lock()
	delete(l.m[tenant], host)
	l.mu.Unlock()
	return true, nil
}

// List shows tenant's logins without their secrets.
func (l *Logins) List(tenant string) []api.RegistryLoginView {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]api.RegistryLoginView, 0, len(l.m[tenant]))
	for host, lg := range l.m[tenant] {
		out = append(out, api.RegistryLoginView{Host: host, Username: lg.cred.Username, Created: lg.created})
	}
	slices.SortFunc(out, func(a, b api.RegistryLoginView) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// For returns tenant's login to image's registry, nil when it has none.
func (l *Logins) For(tenant, image string) *registry.Credential {
	if registry.Local(image) {
		return nil
	}
	host := registry.Host(image)
	l.mu.RLock()
	defer l.mu.RUnlock()
	lg, ok := l.m[tenant][host]
	if !ok {
		return nil
	}
	c := lg.cred
	return &c
}

// PullAuth is For as a worker receives it, for one pull.
func (l *Logins) PullAuth(tenant, image string) *worker.PullAuth {
	c := l.For(tenant, image)
	if c == nil {
		return nil
	}
	return &worker.PullAuth{Host: registry.Host(image), Username: c.Username, Password: c.Password}
}

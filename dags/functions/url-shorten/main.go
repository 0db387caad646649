// Command url-shorten is a stage of the social-compose sample workflow. For
// each URL of a post it computes the canonical form (lower-case scheme and
// host, no default port, no fragment, no tracking parameters, sorted
// query), a seven-character base62 code from its SHA-256, and, against the
// link table — the codes already issued, loaded from a synthetic store of
// the request's size, derived from its seed — moves to the next code while
// the code belongs to another URL. It also checks each URL's host and path
// prefixes against a blocklist of SHA-256 prefixes, as Safe Browsing does.
// Loading the link table allocates in proportion to its size; it is
// loaded over the sandbox's CPUs.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/social"
)

// Sizes of the link table and the unsafe-URL blocklist.
const (
	linkTableEntries = 120_000
	tableShards      = 64
	blocklistEntries = 50_000
	codeLength       = 7
	shortDomain      = "https://bat.on/"
)

// post is what url-shorten reads of compose-post's output.
type post struct {
	Seed uint64   `json:"seed"`
	URLs []string `json:"urls"`
}

// link is one shortened URL.
type link struct {
	URL        string `json:"url"`
	Canonical  string `json:"canonical"`
	Short      string `json:"short"`
	Collisions int    `json:"collisions"` // codes skipped because another URL had them
	Unsafe     bool   `json:"unsafe"`
}

// response lists the links in the order of the post's URLs.
type response struct {
	Links      []link `json:"links"`
	TableSize  int    `json:"table_size"`
	Collisions int    `json:"collisions"`
}

func main() { fnkit.Main("url-shorten", handle) }

// handle shortens the post's URLs.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var p post
	if err := fnkit.DecodeJSON(input, &p, `compose-post's output: {"seed", "urls", ...}`); err != nil {
		return nil, err
	}
	canon := make([]string, len(p.URLs))
	for i, u := range p.URLs {
		c, err := canonical(u)
		if err != nil {
			return nil, fmt.Errorf("%w: url %d: %w", fnkit.ErrBadInput, i, err)
		}
		canon[i] = c
	}
	table, err := loadTable(ctx, p.Seed)
	if err != nil {
		return nil, err
	}
	out := response{Links: make([]link, len(p.URLs)), TableSize: linkTableEntries}
	for i, c := range canon {
		l := link{URL: p.URLs[i], Canonical: c, Unsafe: unsafe(c)}
		for salt := 0; ; salt++ {
			code := shortCode(c, salt)
			if owner, taken := table.get(code); !taken || owner == social.HashString(c) {
				l.Short = shortDomain + code
				break
			}
			l.Collisions++
		}
		out.Collisions += l.Collisions
		out.Links[i] = l
	}
	return fnkit.EncodeJSON(out)
}

// tracking are query parameters that only track, dropped from canonical URLs.
var tracking = []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "fbclid", "gclid"}

// canonical returns the canonical form of an http(s) URL.
func canonical(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%q is not an http or https URL", raw)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "80" && u.Scheme == "http" || port == "443" && u.Scheme == "https" {
		port = ""
	}
	u.Host = host
	if port != "" {
		u.Host += ":" + port
	}
	u.Fragment, u.RawFragment = "", ""
	q := u.Query()
	for _, t := range tracking {
		q.Del(t)
	}
	u.RawQuery = q.Encode() // sorted by key
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// shortCode is the base62 code of SHA-256(salt, canonical URL).
func shortCode(canon string, salt int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s", salt, canon)))
	x := binary.BigEndian.Uint64(sum[:8])
	var b [codeLength]byte
	for i := range b {
		b[i] = base62[x%62]
		x /= 62
	}
	return string(b[:])
}

// table is the link table: code → hash of the URL that owns it, sharded by
// code so that shards load in parallel.
type table struct {
	shards [tableShards]map[string]uint64
}

func shardOf(code string) int { return int(social.HashString(code) % tableShards) }

func (t *table) get(code string) (uint64, bool) {
	v, ok := t.shards[shardOf(code)][code]
	return v, ok
}

// loadTable loads the codes issued so far: linkTableEntries links, each
// the code of a synthetic URL of the store of seed.
func loadTable(ctx context.Context, seed uint64) (*table, error) {
	codes := make([]string, linkTableEntries)
	owners := make([]uint64, linkTableEntries)
	shard := make([]uint8, linkTableEntries)
	const chunk = 4096
	err := fnkit.ForEach(ctx, (linkTableEntries+chunk-1)/chunk, func(c int) {
		for i := c * chunk; i < min(linkTableEntries, (c+1)*chunk); i++ {
			h := social.Hash(seed, 0x11e4, uint64(i))
			var b [codeLength]byte
			for k := range b {
				b[k] = base62[h%62]
				h /= 62
			}
			codes[i], owners[i] = string(b[:]), social.Hash(seed, 0x0e4, uint64(i))
			shard[i] = uint8(shardOf(codes[i]))
		}
	})
	if err != nil {
		return nil, err
	}
	// Group the entries by shard (a counting sort keeps their order).
	var start [tableShards + 1]int
	for _, s := range shard {
		start[s+1]++
	}
	for s := range tableShards {
		start[s+1] += start[s]
	}
	order := make([]int32, linkTableEntries)
	next := start
	for i, s := range shard {
		order[next[s]] = int32(i)
		next[s]++
	}
	t := &table{}
	err = fnkit.ForEach(ctx, tableShards, func(s int) {
		m := make(map[string]uint64, start[s+1]-start[s])
		for _, i := range order[start[s]:start[s+1]] {
			if _, dup := m[codes[i]]; !dup {
				m[codes[i]] = owners[i]
			}
		}
		t.shards[s] = m
	})
	return t, err
}

// blocked is the sorted list of 32-bit SHA-256 prefixes of unsafe URL
// expressions, loaded once per process.
var blocked = sync.OnceValue(func() []uint32 {
	b := make([]uint32, blocklistEntries)
	for i := range b {
		b[i] = uint32(social.Hash(0xbad, uint64(i)))
	}
	slices.Sort(b)
	return b
})

// unsafe reports whether any host-suffix/path-prefix expression of the
// canonical URL has a blocklisted hash prefix, or its host is on the
// (synthetic) known-bad list.
func unsafe(canon string) bool {
	u, err := url.Parse(canon)
	if err != nil {
		return false
	}
	hosts := []string{u.Hostname()}
	parts := strings.Split(u.Hostname(), ".")
	for i := 1; i+1 < len(parts); i++ {
		hosts = append(hosts, strings.Join(parts[i:], "."))
	}
	paths := []string{"/", u.EscapedPath()}
	if u.RawQuery != "" {
		paths = append(paths, u.EscapedPath()+"?"+u.RawQuery)
	}
	bl := blocked()
	for _, h := range hosts {
		if strings.HasSuffix(h, ".invalid") {
			return true
		}
		for _, p := range paths {
			sum := sha256.Sum256([]byte(h + p))
			prefix := binary.BigEndian.Uint32(sum[:4])
			if i := sort.Search(len(bl), func(i int) bool { return bl[i] >= prefix }); i < len(bl) && bl[i] == prefix {
				return true
			}
		}
	}
	return false
}

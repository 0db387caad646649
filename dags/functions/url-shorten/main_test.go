package main

import (
	"context"
	"strings"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://Example.COM:443/a?b=2&a=1&utm_source=x#frag": "https://example.com/a?a=1&b=2",
		"http://example.com:80":                               "http://example.com/",
		"http://example.com:8080/x?fbclid=1":                  "http://example.com:8080/x",
	} {
		if got, err := canonical(in); err != nil || got != want {
			t.Errorf("canonical(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestHandleShortens(t *testing.T) {
	r := fnkittest.Output[response](t, handle, []byte(`{"seed": 9, "urls": ["https://A.example/x?utm_medium=m", "https://a.example/x", "http://bad.invalid/"]}`))
	if len(r.Links) != 3 {
		t.Fatalf("got %+v", r)
	}
	a, b, c := r.Links[0], r.Links[1], r.Links[2]
	if a.Short != b.Short || !strings.HasPrefix(a.Short, shortDomain) || len(a.Short) != len(shortDomain)+codeLength {
		t.Errorf("one URL in two spellings got %q and %q", a.Short, b.Short)
	}
	if a.Unsafe || !c.Unsafe {
		t.Errorf("unsafe flags %v %v, want false true", a.Unsafe, c.Unsafe)
	}
}

func TestTableIsLoadedWhole(t *testing.T) {
	tb, err := loadTable(context.Background(), 9)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range tb.shards {
		n += len(m)
	}
	// 62^7 codes: a handful of the entries repeat.
	if n < linkTableEntries-10 || n > linkTableEntries {
		t.Errorf("table holds %d codes, want about %d", n, linkTableEntries)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "ftp", Input: `{"urls": ["ftp://x.example/"]}`, WantMention: "url 0"},
		{Name: "not a post", Input: `{"urls": "x"}`, WantMention: "compose-post"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }

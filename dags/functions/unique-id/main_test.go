package main

import (
	"context"
	"encoding/json"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
	"baton.dev/baton/dags/functions/social"
)

func TestHandleIssuesAFreshSnowflake(t *testing.T) {
	r := fnkittest.Output[response](t, handle, fnkittest.Fixture(t))
	id, err := social.ParsePostID(r.PostID)
	if err != nil {
		t.Fatal(err)
	}
	ts, machine, seq := social.SplitPostID(id)
	if ts != r.Timestamp || machine != r.Machine || seq != r.Sequence || r.Probes < 1 || len(r.Fingerprint) != 64 {
		t.Errorf("id %d splits into %d/%d/%d; response %+v", id, ts, machine, seq, r)
	}
	var p post
	if err := json.Unmarshal(fnkittest.Fixture(t), &p); err != nil {
		t.Fatal(err)
	}
	f, err := loadLog(context.Background(), p.Seed, r.Machine, r.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	if f.has(id) {
		t.Errorf("issued id %d is in the issue log", id)
	}
}

func TestBloomHasWhatWasAdded(t *testing.T) {
	f, err := loadLog(context.Background(), 7, 3, 1718035200000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if id := social.PostID(1718035200000-int64(i/3), 3, social.Hash(7, 3, uint64(i))%4096); !f.has(id) {
			t.Fatalf("logged id %d (entry %d) is not in the filter", id, i)
		}
	}
	fp := 0
	for i := range 10000 {
		if f.has(social.PostID(1718035200000+1+int64(i), 3, 0)) {
			fp++
		}
	}
	if fp > 20 { // expected about 0.05%
		t.Errorf("%d false positives in 10000", fp)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "seconds", Input: `{"author": "a", "timestamp": 1718035200}`, WantMention: "timestamp"},
		{Name: "no author", Input: `{"author": "", "timestamp": 1718035200000}`, WantMention: "author"},
		{Name: "not a post", Input: `"post"`, WantMention: "compose-post"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }

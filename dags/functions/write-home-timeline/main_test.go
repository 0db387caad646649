package main

import (
	"slices"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestInsertKeepsOrderAndCapacity(t *testing.T) {
	tl := load(1, 5, 1718035200000)
	if len(tl) != Capacity || !slices.IsSortedFunc(tl, func(a, b uint64) int { return int(int64(b - a)) }) {
		t.Fatal("loaded timeline is not newest first")
	}
	mid := tl[10] - 1
	got, ok, ev := insert(slices.Clone(tl), mid)
	if !ok || ev != 1 || got[11] != mid || len(got) != Capacity || got[Capacity-1] != tl[Capacity-2] {
		t.Errorf("insert in the middle: ok %v evicted %d", ok, ev)
	}
	if _, ok, _ := insert(slices.Clone(tl), tl[3]); ok {
		t.Error("inserted an id already there")
	}
	if _, ok, _ := insert(slices.Clone(tl), tl[Capacity-1]-1); ok {
		t.Error("inserted an id older than the whole timeline")
	}
}

func TestHandleFixture(t *testing.T) {
	in := fnkittest.Fixture(t)
	r := fnkittest.Output[response](t, handle, in)
	if r.Followers == 0 || r.Inserted != r.Followers || r.CompressedBytes == 0 || r.CompressedBytes >= r.RawBytes {
		t.Errorf("implausible write %+v", r)
	}
	if again := fnkittest.Output[response](t, handle, in); again != r {
		t.Errorf("not deterministic: %+v then %+v", r, again)
	}
}

func TestHandleEmptyShard(t *testing.T) {
	r := fnkittest.Output[response](t, handle, []byte(`{"shard": 3, "seed": 1, "post_id": "588034709915968587", "timestamp": 1718035200000, "followers": []}`))
	if r.Shard != 3 || r.Followers != 0 || r.RawBytes != 0 {
		t.Errorf("got %+v", r)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "no post id", Input: `{"shard": 0, "followers": [1]}`, WantMention: "post id"},
		{Name: "not a shard", Input: `[]`, WantMention: "store-post's shards"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }

package main

import (
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestHandleFixture(t *testing.T) {
	r := fnkittest.Output[response](t, handle, fnkittest.Fixture(t))
	if r.Position != 0 || r.FirstPage[0] != r.PostID {
		t.Errorf("new post at %d (first page %v), want it newest", r.Position, r.FirstPage)
	}
	if r.Length < minHistory+1 || r.Pages != (r.Length+PageSize-1)/PageSize || r.CompressedBytes < r.Pages*4 {
		t.Errorf("implausible write %+v", r)
	}
}

func TestHandlePlacesAnOlderPost(t *testing.T) {
	tl := history(5, 77, 1718035200000)
	older := tl[100].id - 1 // just before the 101st newest
	in := `{"timeline": {"seed": 5, "author_id": 77, "post_id": "` + itoa(older) + `", "timestamp": 1718035200000}}`
	r := fnkittest.Output[response](t, handle, []byte(in))
	if r.Position != 101 || r.Length != len(tl)+1 {
		t.Errorf("position %d length %d, want 101 and %d", r.Position, r.Length, len(tl)+1)
	}
}

func itoa(x uint64) string {
	if x < 10 {
		return string(rune('0' + x))
	}
	return itoa(x/10) + string(rune('0'+x%10))
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "no timeline", Input: `{}`, WantMention: "post id"},
		{Name: "negative author", Input: `{"timeline": {"post_id": "5", "author_id": -1}}`, WantMention: "author_id"},
		{Name: "not JSON", Input: `timeline`, WantMention: "store-post's output"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }

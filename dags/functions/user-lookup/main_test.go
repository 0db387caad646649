package main

import (
	"slices"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
	"baton.dev/baton/dags/functions/social"
)

func TestHandleResolvesUsers(t *testing.T) {
	in := `{"seed": 2024, "users": 5000, "author": "` + social.Username(2024, 42) + `", "mentions": ["` + social.Username(2024, 7) + `", "nobody_00"]}`
	r := fnkittest.Output[response](t, handle, []byte(in))
	if r.Author.Username != social.Username(2024, 42) || r.Author.Name == "" {
		t.Errorf("author %+v", r.Author)
	}
	if len(r.Mentions) != 2 || !r.Mentions[0].Found || r.Mentions[0].ID > 7 || r.Mentions[1].Found {
		t.Errorf("mentions %+v, want the first found (id 7 or a lower one with its handle) and nobody_00 not", r.Mentions)
	}
	if !slices.IsSorted(r.Followers) {
		t.Error("followers are not ascending")
	}
	for _, f := range r.Followers {
		if !social.Follows(2024, f, r.Author.ID, r.Author.Followers) {
			t.Fatalf("user %d does not follow the author", f)
		}
	}
}

func TestHandleFixture(t *testing.T) {
	r := fnkittest.Output[response](t, handle, fnkittest.Fixture(t))
	// Each user follows with probability followers/100000.
	if n, want := len(r.Followers), r.Author.Followers; n < want*7/10 || n > want*13/10 {
		t.Errorf("%d followers, want about %d", n, want)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "unknown author", Input: `{"seed": 1, "users": 100, "author": "nobody_00"}`, WantMention: `author "nobody_00"`},
		{Name: "no users", Input: `{"seed": 1, "users": 0, "author": "x"}`, WantMention: "users"},
		{Name: "not a post", Input: `1`, WantMention: "compose-post"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }

package leader

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	const ttl = time.Second
	held := func(id string, changedAgo time.Duration) View {
		return View{Exists: true, Holder: Holder{ID: id, Term: 3}, Revision: 9, Changed: now.Add(-changedAgo)}
	}
	released := held("a", 0)
	released.Holder.Released = true
	mine := released
	mine.Holder.ID = "me"
	tests := []struct {
		name    string
		view    View
		leading bool
		want    Action
	}{
		{"no lease yet", View{}, false, Create},
		{"another renews in time", held("a", ttl/2), false, Wait},
		{"another just under the ttl", held("a", ttl-time.Millisecond), false, Wait},
		{"another silent for the ttl", held("a", ttl), false, TakeOver},
		{"another released it", released, false, TakeOver},
		{"mine", held("me", 0), true, Renew},
		{"mine, even late: renewing is how to learn whether it was taken", held("me", 3*ttl), true, Renew},
		{"mine, released as I stop: taken again like anyone's", mine, false, TakeOver},
		{"mine from an earlier process of this replica: taken over at once", held("me", 0), false, TakeOver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(now, "me", tt.leading, tt.view, ttl); got != tt.want {
				t.Errorf("Decide = %v, want %v", got, tt.want)
			}
		})
	}
}

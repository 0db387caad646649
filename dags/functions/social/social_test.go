package social

import "testing"

func TestPostIDRoundTrips(t *testing.T) {
	id := PostID(1718035200123, 1000, 4095)
	ts, m, s := SplitPostID(id)
	if ts != 1718035200123 || m != 1000 || s != 4095 {
		t.Errorf("split %d into %d/%d/%d", id, ts, m, s)
	}
	if PostID(1718035200124, 0, 0) <= id {
		t.Error("a later millisecond does not give a larger id")
	}
	if got, err := ParsePostID("588034709915968587"); err != nil || got != 588034709915968587 {
		t.Errorf("ParsePostID = %d, %v", got, err)
	}
	for _, bad := range []string{"", "0", "-1", "1e3", "18446744073709551616"} {
		if _, err := ParsePostID(bad); err == nil {
			t.Errorf("ParsePostID(%q) accepted", bad)
		}
	}
}

func TestDirectoryIsDeterministic(t *testing.T) {
	if Username(2024, 306) != "elkaan_24" || Popularity(2024, 306) != 787 {
		t.Errorf("user 306 of seed 2024 is %s with %d, the sample's author is elkaan_24 with 787",
			Username(2024, 306), Popularity(2024, 306))
	}
	if Username(1, 5) == Username(2, 5) && Username(1, 6) == Username(2, 6) {
		t.Error("usernames do not depend on the seed")
	}
	if Follows(1, 5, 5, 100_000) {
		t.Error("a user follows themself")
	}
}

package main

import (
	"encoding/json"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestHandleFixture(t *testing.T) {
	r := fnkittest.Output[response](t, handle, fnkittest.Fixture(t))
	d := r.Delivery
	if d.Delivered != d.Followers || len(d.FailedShards) != 0 || r.UserTimeline == nil || len(r.Receipt) != 64 {
		t.Errorf("got %+v", r)
	}
}

func TestHandleReportsFailedShards(t *testing.T) {
	var in map[string]json.RawMessage
	if err := json.Unmarshal(fnkittest.Fixture(t), &in); err != nil {
		t.Fatal(err)
	}
	var shards []json.RawMessage
	_ = json.Unmarshal(in["home-timelines"], &shards)
	shards[1] = json.RawMessage(`{"error": {"stage": "home-timelines", "message": "element 1: timed out"}}`)
	in["home-timelines"], _ = json.Marshal(shards)
	in["user-timeline"] = json.RawMessage(`{"error": {"stage": "user-timeline", "message": "boom"}}`)
	b, _ := json.Marshal(in)
	r := fnkittest.Output[response](t, handle, b)
	if len(r.Delivery.FailedShards) != 1 || r.Delivery.FailedShards[0] != 1 || r.Delivery.Delivered >= r.Delivery.Followers || r.UserTimeline != nil {
		t.Errorf("got %+v", r.Delivery)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "no store", Input: `{"home-timelines": []}`, WantMention: "no stored post"},
		{Name: "shard count", Input: `{"store": {"post_id": "1", "shards": [{"shard": 0}]}, "home-timelines": []}`, WantMention: "0 results for 1 shards"},
		{Name: "not an object", Input: `[]`, WantMention: "stages respond-post needs"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }

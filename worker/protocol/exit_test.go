package protocol

import (
	"encoding/json"
	"reflect"
	"testing"

	"baton.dev/baton/worker"
)

func TestExitSubject(t *testing.T) {
	if got, want := ExitSubject("w1"), "baton.worker.w1.exit"; got != want {
		t.Errorf("ExitSubject = %q, want %q", got, want)
	}
}

func TestExitMessages(t *testing.T) {
	cases := []struct {
		name string
		msg  any
		wire string
	}{
		{"request", &ExitRequest{ID: "sb-1"}, `{"id":"sb-1"}`},
		{"out of memory", &ExitReply{Reason: worker.ExitReason{OutOfMemory: true}}, `{"reason":{"outOfMemory":true}}`},
		{"unknown", &ExitReply{}, `{"reason":{}}`},
		{"error", &ExitReply{Error: &Error{Code: CodeNotFound, Message: "sandbox sb-1: sandbox not found"}},
			`{"reason":{},"error":{"code":"not_found","message":"sandbox sb-1: sandbox not found"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := json.Marshal(c.msg)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if string(data) != c.wire {
				t.Errorf("wire = %s, want %s", data, c.wire)
			}
			got := reflect.New(reflect.TypeOf(c.msg).Elem()).Interface()
			if err := json.Unmarshal(data, got); err != nil {
				t.Fatalf("decode %s: %v", data, err)
			}
			if !reflect.DeepEqual(got, c.msg) {
				t.Errorf("round trip of %s: got %+v, want %+v", data, got, c.msg)
			}
		})
	}
}

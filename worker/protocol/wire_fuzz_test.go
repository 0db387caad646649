package protocol

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"baton.dev/baton/worker"
)

// The hand-written wire (createwire.go, heartbeatwire.go) must be
// encoding/json's on every input, not only on the tables' cases. Each
// fuzz target below runs its seeds as a test; to search further:
//
//	go test ./worker/protocol -run '^$' -fuzz FuzzDecodeCreateReply -fuzztime 60s

// FuzzDecodeCreateReply: any bytes decode as json.Unmarshal decodes them,
// to the same value or the same error.
func FuzzDecodeCreateReply(f *testing.F) {
	sb := worker.Sandbox{ID: "sb-1", Function: "acme/wf/fn", Image: "baton.local/fn:v1", CPUMilli: 250, MemoryBytes: 128 << 20,
		Endpoint: "http://10.177.0.5:8080", Created: time.Date(2026, 12, 5, 7, 0, 0, 123456789, time.UTC),
		ColdStart: worker.ColdStart{Pull: 1, Total: 21, PullBytes: 1 << 33}}
	for _, v := range []any{CreateReply{Sandbox: &sb}, CreateReply{Error: &Error{Code: CodeImageNotFound, Message: "no image"}}} {
		data, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{`{}`, `{"sandbox":null}`, `{"sandbox":{"cpuMilli":1e3}}`, `{"sandbox":{"id":"a"`, `{"Sandbox":{"ID":"a"}}`, `{"sandbox":{"created":"2026-12-05T07:00:00.1+01:00"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkAsJSON(t, string(data), DecodeCreateReply) })
}

// FuzzUnmarshalHeartbeat: the same of a heartbeat.
func FuzzUnmarshalHeartbeat(f *testing.F) {
	full, err := json.Marshal(Heartbeat{WorkerID: "sim-01234", Runtime: "fake", CPUMilli: 16000, MemoryBytes: 64 << 30, CPUAllocationRatio: 1.5,
		Sandboxes: 3, Images: []string{"baton.local/a:v1"}, Sent: time.Date(2026, 12, 5, 7, 0, 0, 42, time.UTC), Interval: 200 * time.Millisecond,
		Incarnation: "0123456789abcdef", Reclaimed: []string{"inc-0"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	for _, s := range []string{`{"cpuAllocationRatio":1.25e1}`, `{"cpuMilli":0100}`, `{"images":["a",1]}`, `{"sent":null}`, `{"interval":-0}`, `{"cpuAllocationRatio":-0.0e-0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkAsJSON(t, string(data), unmarshalHeartbeat) })
}

// FuzzAppendCreateRequest: any request is written byte for byte as
// json.Marshal writes it.
func FuzzAppendCreateRequest(f *testing.F) {
	f.Add("sb-0123456789abcdef", "acme/wf/fn", "baton.local/fn:v1", "KEY", "value", int64(250), int64(128<<20), uint64(3))
	f.Add(`a"b`, "<a&b>", "é\u2028", "\n", "\x00", int64(-1), int64(0), uint64(1<<63))
	f.Fuzz(func(t *testing.T, id, function, image, key, value string, cpu, mem int64, term uint64) {
		req := CreateRequest{Spec: worker.SandboxSpec{ID: id, Function: function, Image: image, CPUMilli: cpu, MemoryBytes: mem,
			Env: map[string]string{key: value}, Privileges: worker.Privileges{Capabilities: []string{value}}}, Term: term}
		want, err := json.Marshal(req)
		if err != nil {
			t.Skip() // not a message anyone can send
		}
		got, err := AppendCreateRequest(nil, req)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("wrote %s, json.Marshal %s", got, want)
		}
	})
}

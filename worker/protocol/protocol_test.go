package protocol

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/worker"
)

// The subjects and field names are the contract between orchestrators and
// workers of possibly different builds: these tests pin them.

func TestSubjects(t *testing.T) {
	cases := []struct {
		got, want string
	}{
		{CreateSubject("w1"), "baton.worker.w1.create"},
		{DeleteSubject("w1"), "baton.worker.w1.delete"},
		{ListSubject("w1"), "baton.worker.w1.list"},
		{VerifySubject("w1"), "baton.worker.w1.verify"},
		{CreateSubject("*"), "baton.worker.*.create"},
		{HeartbeatSubject("w1"), "baton.heartbeat.w1"},
		{HeartbeatSubjects, "baton.heartbeat.*"},
		{WorkerSubjects("w1"), "baton.worker.w1.>"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("subject = %q, want %q", c.got, c.want)
		}
	}
}

func TestErrorWireFormat(t *testing.T) {
	data, err := json.Marshal(DeleteReply{Error: &Error{Code: CodeNotFound, Message: "sandbox sb-1: sandbox not found"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"error":{"code":"not_found","message":"sandbox sb-1: sandbox not found"}}`; string(data) != want {
		t.Errorf("reply = %s, want %s", data, want)
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	conn := worker.Conn{Client: netip.MustParseAddrPort("10.177.0.1:40000"), Server: netip.MustParseAddrPort("10.177.0.5:8080")}
	sb := worker.Sandbox{ID: "sb-1", Function: "t/wf/f", Image: "baton.local/fn:v1", CPUMilli: 500, MemoryBytes: 128 << 20, Endpoint: "http://10.177.0.5:8080"}
	cases := []struct {
		name string
		msg  any
	}{
		{"heartbeat", &Heartbeat{
			WorkerID: "w1", Runtime: "process", CPUMilli: 4000, MemoryBytes: 8 << 30,
			AllocatedCPUMilli: 500, AllocatedMemoryBytes: 128 << 20, Sandboxes: 1,
			Images: []string{"baton.local/fn:v1"}, Sent: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
			Interval: 2 * time.Second, Incarnation: "inc-2", Machine: "m1", Reclaimed: []string{"inc-1"},
		}},
		{"create request", &CreateRequest{Spec: worker.SandboxSpec{ID: "sb-1", Function: "t/wf/f", Image: "baton.local/fn:v1", CPUMilli: 500}}},
		{"create reply", &CreateReply{Sandbox: &sb}},
		{"create reply with an error", &CreateReply{Error: &Error{Code: CodeExists, Message: "sandbox sb-1: sandbox already exists"}}},
		{"delete request", &DeleteRequest{ID: "sb-1"}},
		{"list reply", &ListReply{Sandboxes: []worker.Sandbox{sb}}},
		{"verify request", &VerifyRequest{ID: "sb-1", Conn: conn}},
		{"verify reply", &VerifyReply{Error: &Error{Code: CodeIdentity, Message: "sandbox sb-1: the connection does not end in the sandbox"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := json.Marshal(c.msg)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got := reflect.New(reflect.TypeOf(c.msg).Elem()).Interface()
			if err := json.Unmarshal(data, got); err != nil {
				t.Fatalf("decode %s: %v", data, err)
			}
			if !reflect.DeepEqual(got, c.msg) {
				t.Errorf("round trip of %s:\n got %+v\nwant %+v", data, got, c.msg)
			}
		})
	}
}

func TestDecodeHeartbeat(t *testing.T) {
	tests := []struct {
		name, subject, data, wantErr string
	}{
		{"its own subject", "baton.heartbeat.w1", `{"workerId":"w1","cpuMilli":1000}`, ""},
		{"another worker's subject", "baton.heartbeat.w2", `{"workerId":"w1"}`, "its own subject"},
		{"no worker", "baton.heartbeat.w1", `{}`, "no workerId"},
		{"not JSON", "baton.heartbeat.w1", `{"workerId": 42, garbage`, "heartbeat on baton.heartbeat.w1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hb, err := DecodeHeartbeat(tc.subject, []byte(tc.data))
			if tc.wantErr == "" {
				if err != nil || hb.WorkerID != "w1" || hb.CPUMilli != 1000 {
					t.Fatalf("DecodeHeartbeat = %+v, %v", hb, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("DecodeHeartbeat = %+v, %v; want an error saying %q", hb, err, tc.wantErr)
			}
		})
	}
}

func TestCheckWorkerID(t *testing.T) {
	for _, id := range []string{"w1", "worker-1", "ip-10-0-0-1", "node_7"} {
		if err := CheckWorkerID(id); err != nil {
			t.Errorf("CheckWorkerID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", "*", ">", "a.b", "w1.>", "-w", "host.example.com", strings.Repeat("w", 64), "w 1"} {
		if err := CheckWorkerID(id); err == nil || !strings.Contains(err.Error(), "worker ID") {
			t.Errorf("CheckWorkerID(%q) = %v, want an error", id, err)
		}
	}
}

func TestBeatRoundTrip(t *testing.T) {
	for _, b := range []Beat{
		{WorkerID: "w1", Incarnation: "0123abcd", Sent: time.Unix(1764900000, 123456789)},
		{WorkerID: "sim-00042", Sent: time.Unix(0, 1)}, // no incarnation
	} {
		data := EncodeBeat(nil, b)
		if !IsBeat(data) {
			t.Fatalf("IsBeat(%q) = false", data)
		}
		got, err := DecodeBeat(HeartbeatSubject(b.WorkerID), data)
		if err != nil || got.WorkerID != b.WorkerID || got.Incarnation != b.Incarnation || !got.Sent.Equal(b.Sent) {
			t.Fatalf("DecodeBeat(%q) = %+v, %v; want %+v", data, got, err, b)
		}
	}
	full, err := json.Marshal(Heartbeat{WorkerID: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	if IsBeat(full) || IsBeat(nil) {
		t.Fatalf("IsBeat takes a full heartbeat %q or nothing for a Beat", full)
	}
}

func TestDecodeBeat(t *testing.T) {
	tests := []struct {
		name, subject, data, wantErr string
	}{
		{"not a heartbeat subject", "baton.worker.w1.create", "~1 inc", "not a heartbeat subject"},
		{"no worker in the subject", "baton.heartbeat.", "~1 inc", "not a heartbeat subject"},
		{"a full heartbeat", "baton.heartbeat.w1", `{"workerId":"w1"}`, "does not start with"},
		{"no space", "baton.heartbeat.w1", "~123", "no space"},
		{"bad time", "baton.heartbeat.w1", "~12x3 inc", "send time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := DecodeBeat(tc.subject, []byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("DecodeBeat = %+v, %v; want an error saying %q", b, err, tc.wantErr)
			}
		})
	}
}

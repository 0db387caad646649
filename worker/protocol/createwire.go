package protocol

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"time"

	"baton.dev/baton/worker"
)

// The creation's messages are the orchestrator's busiest: one request
// and one reply per sandbox created, thousands a second in a burst. On
// that path encoding/json's reflection was a fifth of the orchestrator's
// CPU (bench controlplane's profile), and its deep recursion grew every
// creation goroutine's stack several times. AppendCreateRequest and
// DecodeCreateReply write and read the same JSON by hand: the wire is
// unchanged, so workers and orchestrators of either kind understand each
// other. Whatever the hand-written path does not cover (a string that
// needs escaping, a field it does not know, another shape) goes through
// encoding/json, and so comes out exactly as before.

// AppendCreateRequest appends req as JSON to dst: the bytes
// json.Marshal(req) gives.
func AppendCreateRequest(dst []byte, req CreateRequest) ([]byte, error) {
	if out, ok := appendCreateRequest(dst, req); ok {
		return out, nil
	}
	data, err := json.Marshal(req)
	if err != nil {
		return dst, err
	}
	return append(dst, data...), nil
}

func appendCreateRequest(dst []byte, req CreateRequest) ([]byte, bool) {
	s, start := req.Spec, len(dst)
	ok := true
	str := func(key, v string) {
		dst = append(dst, key...)
		dst, ok = appendPlainString(dst, v, ok)
	}
	str(`{"spec":{"id":`, s.ID)
	str(`,"function":`, s.Function)
	str(`,"image":`, s.Image)
	dst = strconv.AppendInt(append(dst, `,"cpuMilli":`...), s.CPUMilli, 10)
	dst = strconv.AppendInt(append(dst, `,"memoryBytes":`...), s.MemoryBytes, 10)
	if len(s.Env) > 0 {
		dst = append(dst, `,"env":{`...)
		for i, k := range slices.Sorted(maps.Keys(s.Env)) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst, ok = appendPlainString(dst, k, ok)
			dst = append(dst, ':')
			dst, ok = appendPlainString(dst, s.Env[k], ok)
		}
		dst = append(dst, '}')
	}
	if s.HealthTimeout != 0 {
		dst = strconv.AppendInt(append(dst, `,"healthTimeout":`...), int64(s.HealthTimeout), 10)
	}
	if a := s.PullAuth; a != nil {
		str(`,"pullAuth":{"host":`, a.Host)
		str(`,"username":`, a.Username)
		str(`,"password":`, a.Password)
		dst = append(dst, '}')
	}
	if s.Isolation != "" {
		str(`,"isolation":`, s.Isolation)
	}
	if s.Egress != "" {
		str(`,"egress":`, s.Egress)
	}
	if len(s.Capabilities) > 0 {
		dst = append(dst, `,"capabilities":[`...)
		for i, c := range s.Capabilities {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst, ok = appendPlainString(dst, c, ok)
		}
		dst = append(dst, ']')
	}
	if s.RunAsRoot {
		dst = append(dst, `,"runAsRoot":true`...)
	}
	dst = append(dst, '}')
	if req.Term != 0 {
		dst = strconv.AppendUint(append(dst, `,"term":`...), req.Term, 10)
	}
	dst = append(dst, '}')
	if !ok {
		return dst[:start], false
	}
	return dst, true
}

// appendPlainString appends s quoted, and reports ok while every string
// so far needed no escaping, as json.Marshal writes them: printable
// ASCII but for '"', '\\' and the HTML-sensitive '<', '>', '&'.
func appendPlainString(dst []byte, s string, ok bool) ([]byte, bool) {
	for i := 0; i < len(s) && ok; i++ {
		ok = plainByte(s[i])
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"'), ok
}

func plainByte(c byte) bool {
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// DecodeCreateReply reads a CreateReply as json.Unmarshal does.
func DecodeCreateReply(data []byte, reply *CreateReply) error {
	return decodeWire(data, reply, (*wireDecoder).createReply)
}

func (d *wireDecoder) createReply(r *CreateReply) error {
	return d.object(func(key []byte) error {
		switch string(key) {
		case "sandbox":
			if r.Sandbox == nil { // a key twice fills the same value, as json does
				r.Sandbox = &worker.Sandbox{}
			}
			return d.sandbox(r.Sandbox)
		case "error":
			if r.Error == nil {
				r.Error = &Error{}
			}
			return d.object(func(key []byte) (err error) {
				switch string(key) {
				case "code":
					r.Error.Code, err = d.string()
				case "message":
					r.Error.Message, err = d.string()
				default:
					err = errNotPlain
				}
				return err
			})
		}
		return errNotPlain
	})
}

func (d *wireDecoder) sandbox(sb *worker.Sandbox) error {
	return d.object(func(key []byte) (err error) {
		switch string(key) {
		case "id":
			sb.ID, err = d.string()
		case "function":
			sb.Function, err = d.string()
		case "image":
			sb.Image, err = d.string()
		case "cpuMilli":
			sb.CPUMilli, err = d.int()
		case "memoryBytes":
			sb.MemoryBytes, err = d.int()
		case "endpoint":
			sb.Endpoint, err = d.string()
		case "coldStart":
			err = d.coldStart(&sb.ColdStart)
		case "created":
			err = d.time(&sb.Created)
		default:
			err = errNotPlain
		}
		return err
	})
}

func (d *wireDecoder) coldStart(cs *worker.ColdStart) error {
	phases := [...]struct {
		key string
		d   *time.Duration
	}{{"pull", &cs.Pull}, {"image", &cs.Image}, {"create", &cs.Create}, {"network", &cs.Network}, {"start", &cs.Start}, {"healthy", &cs.Healthy}, {"total", &cs.Total}}
	return d.object(func(key []byte) (err error) {
		for _, ph := range phases {
			if string(key) == ph.key {
				*ph.d, err = d.duration()
				return err
			}
		}
		if string(key) == "pullBytes" {
			cs.PullBytes, err = d.int()
			return err
		}
		return errNotPlain
	})
}

package fnkit

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// point is a small input type for the decoding tests.
type point struct {
	X *int `json:"x"`
	Y int  `json:"y"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name, input string
		strict      bool
		wantX       int
		wantErr     string // "" for success, else a substring of the error
	}{
		{"object", `{"x": 1, "y": 2}`, false, 1, ""},
		{"surrounding white space", " \n{\"x\": 3}\t\n", false, 3, ""},
		{"unknown field ignored", `{"x": 4, "z": 5}`, false, 4, ""},
		{"unknown field strict", `{"x": 4, "z": 5}`, true, 0, `decode input JSON (want a point): json: unknown field "z"`},
		{"known fields strict", `{"x": 6, "y": 7}`, true, 6, ""},
		{"not JSON", `x=1`, false, 0, "decode input JSON (want a point)"},
		{"empty", ``, false, 0, "decode input JSON (want a point): EOF"},
		{"truncated", `{"x": 1`, false, 0, "decode input JSON"},
		{"wrong type", `{"x": "1"}`, false, 0, "decode input JSON"},
		{"trailing value", `{"x": 1} {}`, false, 0, "unexpected data after the input JSON object"},
		{"trailing garbage", `{"x": 1} ]`, true, 0, "unexpected data after the input JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p point
			decode := DecodeJSON
			if tt.strict {
				decode = DecodeJSONStrict
			}
			err := decode([]byte(tt.input), &p, "a point")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err %v, want nil", err)
				}
				if p.X == nil || *p.X != tt.wantX {
					t.Errorf("decoded %+v, want x %d", p, tt.wantX)
				}
				return
			}
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("err %v, want one wrapping ErrBadInput", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestEncodeJSON(t *testing.T) {
	tests := []struct {
		name          string
		value         any
		want, wantErr string // the output, or a substring of the error
	}{
		{"struct", struct {
			A int    `json:"a"`
			B string `json:"b"`
		}{1, "<x>"}, "{\"a\":1,\"b\":\"\\u003cx\\u003e\"}\n", ""},
		{"empty list", []int{}, "[]\n", ""},
		{"nil list", []int(nil), "null\n", ""},
		{"not representable", math.NaN(), "", "encode output: json: unsupported value: NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeJSON(tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, ErrBadInput) {
					t.Fatalf("err %v, want an internal error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

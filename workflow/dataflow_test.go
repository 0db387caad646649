package workflow

import (
	"strings"
	"testing"
)

func TestJSONValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{" [1, 2] \n", `[1, 2]`},
		{`42`, `42`},
		{`"s"`, `"s"`},
		{`hello`, `"hello"`},
		{``, `""`},
		{`{"a":`, `"{\"a\":"`},
		{"line\nbreak", `"line\nbreak"`},
	}
	for _, tt := range tests {
		if got := string(jsonValue([]byte(tt.in))); got != tt.want {
			t.Errorf("jsonValue(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestStageInput(t *testing.T) {
	outs := map[string][]byte{"a": []byte(`{"x":1}`), "b": []byte("plain"), "c": []byte("3")}
	outputOf := func(n string) []byte { return outs[n] }
	tests := []struct {
		needs []string
		want  string
	}{
		{nil, "REQ"},
		{[]string{"b"}, "plain"},
		{[]string{"a", "b"}, `{"a":{"x":1},"b":"plain"}`},
		{[]string{"c", "a", "b"}, `{"c":3,"a":{"x":1},"b":"plain"}`},
	}
	for _, tt := range tests {
		got := string(stageInput(&Stage{Name: "s", Needs: tt.needs}, []byte("REQ"), outputOf))
		if got != tt.want {
			t.Errorf("needs %v: input %s, want %s", tt.needs, got, tt.want)
		}
	}
}

func TestForeachItems(t *testing.T) {
	tests := []struct {
		input, path string
		want        []string
		wantErr     string
	}{
		{`{"frames":[1,"two",{"x":3}]}`, "frames", []string{`1`, `"two"`, `{"x":3}`}, ""},
		{`{"data":{"items":[]}}`, "data.items", []string{}, ""},
		{`{"a.b":[1]}`, "a.b", nil, `foreach path "a.b": not found in stage input`},
		{`null`, "x", nil, `foreach path "x": stage input is not a JSON object`},
		{`{"x":[1,}`, "x", nil, `foreach path "x": stage input is not a JSON object`},
	}
	for _, tt := range tests {
		got, err := foreachItems([]byte(tt.input), tt.path)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("foreachItems(%s, %q) err = %v, want %q", tt.input, tt.path, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("foreachItems(%s, %q): %v", tt.input, tt.path, err)
			continue
		}
		gs := make([]string, len(got))
		for i, g := range got {
			gs[i] = string(g)
		}
		if strings.Join(gs, "|") != strings.Join(tt.want, "|") || len(gs) != len(tt.want) {
			t.Errorf("foreachItems(%s, %q) = %q, want %q", tt.input, tt.path, gs, tt.want)
		}
	}
}

func TestJoinArray(t *testing.T) {
	if got := string(joinArray(nil)); got != "[]" {
		t.Errorf("empty = %s", got)
	}
	if got := string(joinArray([][]byte{[]byte("1"), []byte("x")})); got != `[1,"x"]` {
		t.Errorf("mixed = %s", got)
	}
}

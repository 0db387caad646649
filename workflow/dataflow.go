package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// jsonValue returns out as a JSON value: unchanged when it is valid JSON,
// otherwise encoded as a JSON string.
func jsonValue(out []byte) []byte {
	if json.Valid(out) {
		return bytes.TrimSpace(out)
	}
	s, _ := json.Marshal(string(out)) // marshalling a string cannot fail
	return s
}

// joinObject builds a JSON object from keys and raw outputs, keeping key
// order; values that are not JSON become JSON strings.
func joinObject(keys []string, outs [][]byte) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k) // marshalling a string cannot fail
		b.Write(kb)
		b.WriteByte(':')
		b.Write(jsonValue(outs[i]))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// joinArray builds a JSON array from raw outputs, in order; values that are
// not JSON become JSON strings. No outputs give "[]".
func joinArray(outs [][]byte) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, o := range outs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(jsonValue(o))
	}
	b.WriteByte(']')
	return b.Bytes()
}

// stageInput is the input of a stage given the outputs of its needs: the
// workflow input with no needs, the single need's output unchanged, or an
// object keyed by stage name for several.
func stageInput(st *Stage, workflowInput []byte, outputOf func(string) []byte) []byte {
	switch len(st.Needs) {
	case 0:
		return workflowInput
	case 1:
		return outputOf(st.Needs[0])
	}
	outs := make([][]byte, len(st.Needs))
	for i, n := range st.Needs {
		outs[i] = outputOf(n)
	}
	return joinObject(st.Needs, outs)
}

// foreachItems returns the elements of the JSON array at the dotted path in
// input, which must then be a JSON object, or of input itself for the path ".".
func foreachItems(input []byte, path string) ([][]byte, error) {
	cur := json.RawMessage(input)
	var keys []string
	if path != wholeInput {
		keys = strings.Split(path, ".")
	}
	for i, key := range keys {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur, &obj); err != nil || obj == nil {
			if i == 0 {
				return nil, fmt.Errorf("foreach path %q: stage input is not a JSON object", path)
			}
			return nil, fmt.Errorf("foreach path %q: not found in stage input", path)
		}
		v, ok := obj[key]
		if !ok {
			return nil, fmt.Errorf("foreach path %q: not found in stage input", path)
		}
		cur = v
	}
	var items []json.RawMessage
	if err := json.Unmarshal(cur, &items); err != nil || items == nil {
		return nil, fmt.Errorf("foreach path %q: not an array in stage input (got %s)", path, jsonKind(cur))
	}
	out := make([][]byte, len(items))
	for i, it := range items {
		out[i] = it
	}
	return out, nil
}

// jsonKind names the kind of a JSON value for messages.
func jsonKind(v []byte) string {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

package fnkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// DecodeJSON decodes input, which must hold exactly one JSON value, into v.
// Its errors wrap ErrBadInput: "decode input JSON (want WANT): ..." when
// input is not JSON that fits v, "unexpected data after the input JSON
// object" when anything but white space follows the value. want describes the
// expected input for the caller, e.g. "detect's output".
func DecodeJSON(input []byte, v any, want string) error {
	return decodeJSON(input, v, want, false)
}

// DecodeJSONStrict is DecodeJSON that also rejects an object field v has no
// place for, naming it in the error.
func DecodeJSONStrict(input []byte, v any, want string) error {
	return decodeJSON(input, v, want, true)
}

func decodeJSON(input []byte, v any, want string, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(input))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: decode input JSON (want %s): %w", ErrBadInput, want, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: unexpected data after the input JSON object", ErrBadInput)
	}
	return nil
}

// EncodeJSON returns v as a handler's output: compact JSON (as json.Marshal
// writes it) and a newline. Its error is an internal one, not ErrBadInput.
func EncodeJSON(v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode output: %w", err)
	}
	return append(body, '\n'), nil
}

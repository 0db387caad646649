package protocol

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// errNotPlain sends a message down encoding/json's path.
var errNotPlain = errors.New("not on the hand-written path")

// decodeWire reads data into v with read on the hand-written path, and
// with json.Unmarshal where read (or what follows the value) is off it.
func decodeWire[T any](data []byte, v *T, read func(*wireDecoder, *T) error) error {
	d := wireDecoder{data: data}
	var fast T
	if err := read(&d, &fast); err == nil && d.end() {
		*v = fast
		return nil
	}
	var zero T
	*v = zero
	return json.Unmarshal(data, v)
}

// wireDecoder reads the JSON of the busiest messages (the creation's
// reply, heartbeats) on a hand-written path: plain strings (nothing to
// unescape, ASCII), integers, numbers, arrays of strings, objects of
// known keys. Anything else is an error, and the caller reads the
// message with encoding/json instead, so that the result is always
// json.Unmarshal's.
type wireDecoder struct {
	data []byte
	i    int
}

func (d *wireDecoder) ws() {
	for d.i < len(d.data) && (d.data[d.i] == ' ' || d.data[d.i] == '\t' || d.data[d.i] == '\n' || d.data[d.i] == '\r') {
		d.i++
	}
}

// end reports whether nothing but white space is left.
func (d *wireDecoder) end() bool {
	d.ws()
	return d.i == len(d.data)
}

// next skips white space and takes c if it comes next.
func (d *wireDecoder) next(c byte) bool {
	d.ws()
	if d.i < len(d.data) && d.data[d.i] == c {
		d.i++
		return true
	}
	return false
}

// object calls field for every key of an object, which must read the
// value (or fail).
func (d *wireDecoder) object(field func(key []byte) error) error {
	if !d.next('{') {
		return errNotPlain
	}
	if d.next('}') {
		return nil
	}
	for {
		key, err := d.rawString()
		if err != nil {
			return err
		}
		if !d.next(':') {
			return errNotPlain
		}
		if err := field(key); err != nil {
			return err
		}
		if d.next('}') {
			return nil
		}
		if !d.next(',') {
			return errNotPlain
		}
	}
}

// rawString reads a string with nothing to unescape, without its
// quotes.
func (d *wireDecoder) rawString() ([]byte, error) {
	if !d.next('"') {
		return nil, errNotPlain
	}
	start := d.i
	for d.i < len(d.data) {
		c := d.data[d.i]
		if c == '"' {
			d.i++
			return d.data[start : d.i-1], nil
		}
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return nil, errNotPlain
		}
		d.i++
	}
	return nil, errNotPlain
}

func (d *wireDecoder) string() (string, error) {
	b, err := d.rawString()
	return string(b), err
}

// number reads a JSON number's text, strictly as JSON writes one:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; integer says it has
// neither fraction nor exponent.
func (d *wireDecoder) number() (text []byte, integer bool, err error) {
	d.ws()
	start := d.i
	digits := func() int {
		n := 0
		for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.data) && d.data[d.i] == '-' {
		d.i++
	}
	first := d.i
	if n := digits(); n == 0 || (n > 1 && d.data[first] == '0') {
		return nil, false, errNotPlain
	}
	integer = true
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, false, errNotPlain
		}
		integer = false
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, false, errNotPlain
		}
		integer = false
	}
	return d.data[start:d.i], integer, nil
}

// int reads an integer (no fraction, no exponent).
func (d *wireDecoder) int() (int64, error) {
	text, integer, err := d.number()
	if err != nil || !integer {
		return 0, errNotPlain
	}
	n, err := strconv.ParseInt(string(text), 10, 64)
	if err != nil {
		return 0, errNotPlain
	}
	return n, nil
}

// float reads a number as json.Unmarshal does into a float64.
func (d *wireDecoder) float() (float64, error) {
	text, _, err := d.number()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return 0, errNotPlain
	}
	return f, nil
}

// null takes a JSON null if it comes next.
func (d *wireDecoder) null() bool {
	d.ws()
	if len(d.data)-d.i >= 4 && string(d.data[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// strings reads an array of strings, or null (nil).
func (d *wireDecoder) strings() ([]string, error) {
	if d.null() {
		return nil, nil
	}
	if !d.next('[') {
		return nil, errNotPlain
	}
	out := []string{}
	if d.next(']') {
		return out, nil
	}
	for {
		s, err := d.string()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		if d.next(']') {
			return out, nil
		}
		if !d.next(',') {
			return nil, errNotPlain
		}
	}
}

// time reads a string as time.Time's UnmarshalJSON does.
func (d *wireDecoder) time(t *time.Time) error {
	d.ws()
	start := d.i
	if _, err := d.rawString(); err != nil {
		return err
	}
	if err := t.UnmarshalJSON(d.data[start:d.i]); err != nil {
		return errNotPlain
	}
	return nil
}

func (d *wireDecoder) duration() (time.Duration, error) {
	n, err := d.int()
	return time.Duration(n), err
}

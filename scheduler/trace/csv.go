package trace

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// table reads a CSV file with a header row, one record at a time.
type table struct {
	path    string
	file    *os.File
	r       *csv.Reader
	columns map[string]int
	header  []string
}

// openTable opens path and reads its header; it fails naming the first of
// required that the header lacks.
func openTable(path string, required ...string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open trace file: %w", err)
	}
	r := csv.NewReader(f)
	r.ReuseRecord = true
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file, want a CSV header", path)
		}
		return nil, fmt.Errorf("%s: read header: %w", path, err)
	}
	t := &table{path: path, file: f, r: r, columns: map[string]int{}, header: append([]string(nil), header...)}
	for i, h := range t.header {
		t.columns[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, c := range required {
		if _, ok := t.columns[c]; !ok {
			f.Close()
			return nil, fmt.Errorf("%s: header has no column %q (header: %s)", path, c, strings.Join(t.header, ","))
		}
	}
	return t, nil
}

// next returns the next record, or io.EOF after the last.
func (t *table) next() ([]string, error) {
	rec, err := t.r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%s: %w", t.path, err)
	}
	if len(rec) != len(t.header) {
		line, _ := t.r.FieldPos(0)
		return nil, fmt.Errorf("%s:%d: %d fields, want %d as in the header", t.path, line, len(rec), len(t.header))
	}
	return rec, nil
}

// field returns the value of column name in rec.
func (t *table) field(rec []string, name string) string {
	return strings.TrimSpace(rec[t.columns[name]])
}

// float parses column name of rec as a finite number.
func (t *table) float(rec []string, name string) (float64, error) {
	s := t.field(rec, name)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != v || v > 1e300 || v < -1e300 {
		line, _ := t.r.FieldPos(t.columns[name])
		return 0, fmt.Errorf("%s:%d: column %s: %q is not a finite number", t.path, line, name, s)
	}
	return v, nil
}

func (t *table) close() { t.file.Close() }

// eachRecord opens path, which must have the required columns, and calls
// fn with every record in order; it stops at the first error.
func eachRecord(path string, required []string, fn func(t *table, rec []string) error) error {
	t, err := openTable(path, required...)
	if err != nil {
		return err
	}
	defer t.close()
	for {
		rec, err := t.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(t, rec); err != nil {
			return err
		}
	}
}

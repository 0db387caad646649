package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"strings"
)

// self is GET /self's answer: what the sandbox gave the function.
type self struct {
	UID int `json:"uid"`
	GID int `json:"gid"`
	// CapEff, CapPrm, CapBnd and CapAmb are the capability sets as
	// /proc/self/status writes them (16 hex digits).
	CapEff string `json:"capEff"`
	CapPrm string `json:"capPrm"`
	CapBnd string `json:"capBnd"`
	CapAmb string `json:"capAmb"`
	// DefaultRoute says whether the sandbox has an IPv4 default route
	// (/proc/net/route).
	DefaultRoute bool `json:"defaultRoute"`
	// Error is what could not be read, if anything.
	Error string `json:"error,omitempty"`
}

func handleSelf(w http.ResponseWriter, _ *http.Request) {
	s := self{UID: os.Getuid(), GID: os.Getgid()}
	var errs []string
	if err := eachLine("/proc/self/status", func(line string) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return
		}
		v = strings.TrimSpace(v)
		switch k {
		case "CapEff":
			s.CapEff = v
		case "CapPrm":
			s.CapPrm = v
		case "CapBnd":
			s.CapBnd = v
		case "CapAmb":
			s.CapAmb = v
		}
	}); err != nil {
		errs = append(errs, err.Error())
	}
	// Columns: Iface Destination Gateway Flags ...; a default route has
	// destination 00000000.
	if err := eachLine("/proc/net/route", func(line string) {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "00000000" {
			s.DefaultRoute = true
		}
	}); err != nil {
		errs = append(errs, err.Error())
	}
	s.Error = strings.Join(errs, "; ")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s)
}

// eachLine calls f with each line of the file at path.
func eachLine(path string, f func(string)) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		f(sc.Text())
	}
	return sc.Err()
}

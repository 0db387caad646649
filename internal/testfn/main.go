// Command testfn is the function the sandbox runtime tests start. It serves
// the sandbox contract on $PORT (GET /healthz, POST /) and behaves as
// $BATON_TESTFN_MODE says:
//
//	ok         POST echoes the body back with 200
//	fail500    POST answers 500 with a message
//	crash      POST makes the process exit with status 2 without answering
//	unhealthy  GET /healthz answers 503 forever
//	oom        POST answers as ok, but a body of {"oom":true} makes it
//	           allocate and touch memory until the kernel kills it (a
//	           function that runs out of memory on some inputs); chosen
//	           with the sandbox's environment, on the ok image
//
// $BATON_TESTFN_DELAY (a Go duration, default 0) makes an ok POST wait that
// long before it answers, as a function waiting on I/O does.
// $BATON_TESTFN_NAME, when set, makes an ok POST answer with that name, a
// colon and the body, so that a test can tell which function answered.
// $BATON_TESTFN_CLOSE=1 makes every answer close its connection
// (Connection: close), as a function without keep-alive does.
//
// POST /attack makes it a hostile function: it tries the attack the body
// names from inside its sandbox and says whether it was stopped (see
// attack.go). GET /self says what the sandbox gave it: its uid and gid,
// its capability sets (from /proc/self/status) and whether it has a
// default route (see self.go). `testfn sleep` sleeps a minute (the fork bomb's and the
// ptrace attack's children); `testfn linger MARKER` sleeps until it is
// killed (the lingering process, MARKER on its command line).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "sleep":
			time.Sleep(time.Minute)
			return
		case "linger":
			for {
				time.Sleep(time.Hour)
			}
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testfn:", err)
		os.Exit(1)
	}
}

func run() error {
	mode := os.Getenv("BATON_TESTFN_MODE")
	switch mode {
	case "ok", "fail500", "crash", "unhealthy", "oom":
	default:
		return fmt.Errorf("BATON_TESTFN_MODE=%q: want ok, fail500, crash, unhealthy or oom", mode)
	}
	var delay time.Duration
	if v := os.Getenv("BATON_TESTFN_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("BATON_TESTFN_DELAY=%q: want a duration ≥ 0", v)
		}
		delay = d
	}
	name := os.Getenv("BATON_TESTFN_NAME")
	closeConns := os.Getenv("BATON_TESTFN_CLOSE") == "1"
	port := os.Getenv("PORT")
	if port == "" {
		return errors.New("PORT is not set")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if mode == "unhealthy" {
			http.Error(w, "unhealthy by design", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /attack", handleAttack)
	mux.HandleFunc("GET /self", handleSelf)
	mux.HandleFunc("POST /{$}", func(w http.ResponseWriter, r *http.Request) {
		switch mode {
		case "fail500":
			http.Error(w, "testfn: failing by design", http.StatusInternalServerError)
		case "crash":
			os.Exit(2)
		default:
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if mode == "oom" && wantsOOM(body) {
				exhaustMemory()
			}
			time.Sleep(delay)
			w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
			if name != "" {
				_, _ = io.WriteString(w, name+":")
			}
			_, _ = w.Write(body)
		}
	})
	var handler http.Handler = mux
	if closeConns {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			mux.ServeHTTP(w, r)
		})
	}
	srv := &http.Server{Addr: ":" + port, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on :%s: %w", port, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// wantsOOM reports whether body is {"oom":true}.
func wantsOOM(body []byte) bool {
	var in struct {
		OOM bool `json:"oom"`
	}
	return json.Unmarshal(body, &in) == nil && in.OOM
}

// exhaustMemory allocates memory and touches every page of it, keeping
// all of it, until the kernel kills the process: it never returns.
func exhaustMemory() {
	var held [][]byte
	for {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += os.Getpagesize() {
			b[i] = 1
		}
		held = append(held, b)
	}
}

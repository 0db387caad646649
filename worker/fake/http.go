package fake

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// handler serves every sandbox of the runtime under /sb/{id}: GET
// /sb/{id}/healthz and POST /sb/{id}/, as the sandbox's mode says.
func (r *Runtime) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sb/{id}/healthz", func(w http.ResponseWriter, req *http.Request) {
		s, ok := r.lookup(req.PathValue("id"))
		if !ok {
			http.Error(w, "no such fake sandbox", http.StatusNotFound)
			return
		}
		s.mu.Lock()
		crashed := s.crashed
		s.mu.Unlock()
		if crashed {
			dropConnection(w)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /sb/{id}/{$}", func(w http.ResponseWriter, req *http.Request) {
		s, ok := r.lookup(req.PathValue("id"))
		if !ok {
			http.Error(w, "no such fake sandbox", http.StatusNotFound)
			return
		}
		switch s.mode {
		case ModeFail500:
			http.Error(w, "testfn: failing by design", http.StatusInternalServerError)
		case ModeCrash:
			s.mu.Lock()
			s.crashed = true
			s.mu.Unlock()
			dropConnection(w)
		case ModeSlow:
			select {
			case <-time.After(SlowCall):
			case <-req.Context().Done():
				return
			}
			echo(w, req)
		default:
			echo(w, req)
		}
	})
	return mux
}

// echo answers 200 with the request's body.
func echo(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", req.Header.Get("Content-Type"))
	_, _ = w.Write(body)
}

// dropConnection closes the client's connection without an answer, as a
// crashing process does.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // net/http closes the connection
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

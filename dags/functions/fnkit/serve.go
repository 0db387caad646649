package fnkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// MaxBodyBytes is the largest request body a function accepts; larger bodies get 413.
const MaxBodyBytes = 16 << 20

// DefaultPort is the port Serve listens on when $PORT is unset.
const DefaultPort = "8080"

// shutdownGrace bounds how long in-flight requests may run after a stop signal.
const shutdownGrace = 10 * time.Second

// Serve runs handler as a function sandbox on $PORT (DefaultPort when unset)
// until the process gets SIGTERM or SIGINT, then lets in-flight requests
// finish and returns nil. It returns an error only if it cannot listen or serve.
func Serve(handler Handler) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	port := os.Getenv("PORT")
	if port == "" {
		port = DefaultPort
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return fmt.Errorf("listen on port %q (from $PORT): %w", port, err)
	}
	return ServeListener(ctx, ln, handler)
}

// Main is the whole of a function's main: it runs Serve(handler) and, should
// Serve fail, logs "NAME stopped" with the error and exits with status 1.
func Main(name string, handler Handler) {
	if err := Serve(handler); err != nil {
		slog.Error(name+" stopped", "err", err)
		os.Exit(1)
	}
}

// ServeListener serves handler on ln until ctx is done, then shuts down
// gracefully (in-flight requests get up to 10 s) and returns nil.
// It closes ln.
func ServeListener(ctx context.Context, ln net.Listener, handler Handler) error {
	srv := &http.Server{
		Handler:           NewHTTPHandler(handler),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("function serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	slog.Info("function shutting down", "addr", ln.Addr().String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down server on %s: %w", ln.Addr(), err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

// NewHTTPHandler returns the sandbox's HTTP surface for handler:
// GET /healthz → 200; POST / → handler's output with 200, 400 with
// {"error": ...} for errors wrapping ErrBadInput, 413 for bodies over
// MaxBodyBytes, 500 with {"error": ...} for any other error.
func NewHTTPHandler(handler Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("POST /{$}", func(w http.ResponseWriter, r *http.Request) {
		invoke(w, r, handler)
	})
	return mux
}

// invoke reads the body, runs handler and writes its output or error.
func invoke(w http.ResponseWriter, r *http.Request, handler Handler) {
	input, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body exceeds %d bytes", tooBig.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, fmt.Sprintf("read request body: %v", err))
		return
	}
	output, err := runHandler(r.Context(), handler, input)
	switch {
	case errors.Is(err, ErrBadInput):
		slog.Warn("function rejected input", "err", err)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		slog.Error("function failed", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if json.Valid(output) {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(output); err != nil {
		slog.Warn("write function output", "err", err)
	}
}

// runHandler calls handler, turning a panic into an error so that one bad
// request cannot take the sandbox down.
func runHandler(ctx context.Context, handler Handler, input []byte) (output []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("function panicked: %v", p)
		}
	}()
	return handler(ctx, input)
}

// writeError writes {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	body, err := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	if err != nil {
		body = []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// Package pgserver runs a private Postgres server from the machine's server
// binaries: a cluster made by initdb in a directory of ours, listening on
// 127.0.0.1 at a port of ours and on a unix socket in that directory. `baton
// up` uses it for history; tests use it to run against a real Postgres.
package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"baton.dev/baton/internal/localport"
)

// Database is the database the server creates for Baton.
const Database = "baton"

// Config says where the cluster lives.
type Config struct {
	// Dir holds the cluster (Dir/data) and the server's socket and log. An
	// existing cluster is reused.
	Dir string
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// BinDir holds initdb, pg_ctl and postgres; empty finds them.
	BinDir string
	// Nice lowers the server's CPU priority (0 to 19): history is
	// background work and must not compete with invocations. Negative
	// means 0; the default, 0, means 10.
	Nice   int
	Logger *slog.Logger
}

// Server is a running private Postgres.
type Server struct {
	cfg  Config
	port int
	cred *syscall.Credential // the server's user when we are root
}

// FindBinaries returns the directory with initdb, pg_ctl and postgres: from
// PATH, or Debian's /usr/lib/postgresql/<version>/bin, newest first.
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	best, bestVersion := "", -1
	for _, m := range matches {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if err == nil && v > bestVersion {
			best, bestVersion = filepath.Dir(m), v
		}
	}
	if best == "" {
		return "", errors.New("Postgres server binaries (initdb, pg_ctl) not found in PATH or /usr/lib/postgresql/*/bin; `make deps` installs them (apt-get install postgresql)")
	}
	return best, nil
}

// Start makes the cluster if Dir has none, starts the server and creates
// the database. It returns when the server accepts connections.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BinDir == "" {
		dir, err := FindBinaries()
		if err != nil {
			return nil, err
		}
		cfg.BinDir = dir
	}
	if len(filepath.Join(cfg.Dir, ".s.PGSQL.65535")) >= 108 {
		return nil, fmt.Errorf("postgres directory %s: too long for a unix socket path (108 bytes)", cfg.Dir)
	}
	s := &Server{cfg: cfg, port: cfg.Port}
	if os.Geteuid() == 0 {
		// Postgres refuses to run as root.
		cred, err := serverUser()
		if err != nil {
			return nil, err
		}
		s.cred = cred
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("postgres directory: %w", err)
	}
	if s.cred != nil {
		if err := os.Chown(cfg.Dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return nil, fmt.Errorf("postgres directory: %w", err)
		}
		// The server's user must be able to reach its directory: let it
		// traverse (not list) the parent, which is usually ours and 0700.
		parent := filepath.Dir(filepath.Clean(cfg.Dir))
		if fi, err := os.Stat(parent); err == nil && fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(parent, fi.Mode().Perm()|0o011); err != nil {
				return nil, fmt.Errorf("postgres directory: let its user reach %s: %w", parent, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(s.dataDir(), "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := s.run(ctx, "initdb", "-D", s.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
			return nil, fmt.Errorf("initdb: %w", err)
		}
	}
	if err := s.startOnAPort(ctx); err != nil {
		return nil, err
	}
	if err := s.createDatabase(ctx); err != nil {
		_ = s.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

func (s *Server) dataDir() string { return filepath.Join(s.cfg.Dir, "data") }
func (s *Server) logPath() string { return filepath.Join(s.cfg.Dir, "postgres.log") }

// URL is a connection string for the server's Baton database.
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, Database)
}

func (s *Server) start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", s.port, s.cfg.Dir)
	nice := s.cfg.Nice
	if nice == 0 {
		nice = 10
	}
	var from int64 // the log's size before this start: its error quotes only this start's lines
	if fi, err := os.Stat(s.logPath()); err == nil {
		from = fi.Size()
	}
	var wrap []string
	if path, err := exec.LookPath("nice"); err == nil && nice > 0 {
		wrap = []string{path, "-n", strconv.Itoa(min(nice, 19))}
	}
	if err := s.runWrapped(ctx, wrap, "pg_ctl", "start", "-w", "-t", "60", "-D", s.dataDir(), "-l", s.logPath(), "-o", opts); err != nil {
		return fmt.Errorf("start postgres: %w; its log %s ends with:\n%s", err, s.logPath(), tail(s.logPath(), from))
	}
	s.cfg.Logger.Info("postgres started", "dir", s.cfg.Dir, "port", s.port)
	return nil
}

// portTries is how many free ports startOnAPort tries.
const portTries = 5

// startOnAPort starts the server on the configured port or, with none, on
// a free one: a port found free may be taken by another process before
// the server binds it (parallel tests starting servers of their own), so
// a start that failed for want of its port tries the next free one.
func (s *Server) startOnAPort(ctx context.Context) error {
	if s.cfg.Port != 0 {
		return s.start(ctx)
	}
	var err error
	for range portTries {
		if s.port, err = localport.Free(); err != nil {
			return err
		}
		if err = s.start(ctx); err == nil || !portTaken(err) {
			return err
		}
		s.cfg.Logger.Info("postgres port taken before the server bound it; trying another", "port", s.port)
	}
	return err
}

// portTaken reports whether a start failed because its port was in use:
// the lines this start wrote to the server's log, quoted in the error,
// say so.
func portTaken(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Address already in use") || strings.Contains(msg, "could not create any TCP/IP sockets")
}

// Restart starts a stopped server again on the same cluster and port.
func (s *Server) Restart(ctx context.Context) error { return s.start(ctx) }

// Stop stops the server (fast shutdown); the cluster stays on disk.
func (s *Server) Stop(ctx context.Context) error {
	if err := s.run(ctx, "pg_ctl", "stop", "-w", "-m", "fast", "-D", s.dataDir()); err != nil {
		if _, serr := os.Stat(filepath.Join(s.dataDir(), "postmaster.pid")); errors.Is(serr, os.ErrNotExist) {
			return nil // not running
		}
		return fmt.Errorf("stop postgres: %w", err)
	}
	s.cfg.Logger.Info("postgres stopped", "dir", s.cfg.Dir)
	return nil
}

// createDatabase creates Database with the createdb program beside pg_ctl;
// an existing one is kept.
func (s *Server) createDatabase(ctx context.Context) error {
	err := s.run(ctx, "createdb", "-h", s.cfg.Dir, "-p", strconv.Itoa(s.port), "-U", "postgres", Database)
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("create database %s: %w", Database, err)
	}
	return nil
}

// run runs one of the server's programs as the server's user.
func (s *Server) run(ctx context.Context, name string, args ...string) error {
	return s.runWrapped(ctx, nil, name, args...)
}

// runWrapped runs a program of the server through wrap (a command prefix
// such as nice), as the server's user.
func (s *Server) runWrapped(ctx context.Context, wrap []string, name string, args ...string) error {
	path := filepath.Join(s.cfg.BinDir, name)
	if _, err := os.Stat(path); err != nil {
		if p, lerr := exec.LookPath(name); lerr == nil {
			path = p
		} else {
			return fmt.Errorf("%s not found in %s or PATH", name, s.cfg.BinDir)
		}
	}
	argv := append(append(append([]string{}, wrap...), path), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = s.cfg.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.cred}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// serverUser is the user the server runs as when we are root: postgres
// if it exists, else nobody.
func serverUser() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("postgres cannot run as root and neither user postgres nor nobody exists")
}

// tail is the last 2 KiB of what the log at path has from offset from on:
// what one start wrote, not earlier starts' lines.
func tail(path string, from int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if from > 0 && from <= int64(len(b)) {
		b = b[from:]
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(b)
}

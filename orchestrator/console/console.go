// Package console is the tenant's web console, served by the
// orchestrator at /ui/ from files embedded in the binary: static HTML,
// one script and one style sheet of its own, and uPlot (1.6.32, from npm,
// MIT; static/vendor holds the file, its license and checksums) for the
// charts. No build step runs, at build time or at run time.
//
// The console holds no data and no secret: the page asks for an API key,
// keeps it in the browser's session storage and sends it as the bearer
// header to the same /v1 API the CLI uses, which decides what the key may
// see. The files are served with a content security policy that allows
// scripts and styles from this origin only (no inline script), no
// framing, and no MIME sniffing.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// securityPolicy is the content security policy of every console answer.
const securityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Handler serves the console's files; mount it at prefix (e.g. "/ui"),
// which it strips. Every path that names no file answers the page
// (index.html), so the browser's address may name a page of the console.
func Handler(prefix string) http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil { // the embedded tree always has static/
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the console's files are missing from this binary: "+err.Error(), http.StatusInternalServerError)
		})
	}
	fileServer := http.StripPrefix(prefix, http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", securityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "the console's files are read with GET", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Cache-Control", "no-cache") // small files; a new binary's show at once
		name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, prefix), "/")
		if st, err := fs.Stat(files, name); name == "" || err != nil || st.IsDir() {
			http.ServeFileFS(w, r, files, "index.html")
			return
		}
		fileServer.ServeHTTP(w, r)
	})
}

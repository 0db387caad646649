package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestConsoleServesItsFilesWithItsHeaders checks each file's answer and
// type, the page for any other path, the security headers on every
// answer, and that the page has no inline script or style (the policy
// would block it).
func TestConsoleServesItsFilesWithItsHeaders(t *testing.T) {
	h := Handler("/ui")
	for _, c := range []struct {
		method, path string
		status       int
		contentType  string
		contains     string
	}{
		{"GET", "/ui/", 200, "text/html", `<script src="app.js" defer></script>`},
		{"GET", "/ui/app.js", 200, "text/javascript", "sessionStorage"},
		{"GET", "/ui/app.css", 200, "text/css", "figure.chart"},
		{"GET", "/ui/vendor/uPlot.iife.min.js", 200, "text/javascript", "uPlot"},
		{"GET", "/ui/vendor/LICENSE-uPlot", 200, "text/plain", "MIT License"},
		{"GET", "/ui/workflow/x", 200, "text/html", "<title>Baton console</title>"},
		{"GET", "/ui/vendor/", 200, "text/html", "<title>Baton console</title>"},
		{"POST", "/ui/", 405, "text/plain", "GET"},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != c.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), c.contentType) || !strings.Contains(string(body), c.contains) {
				t.Errorf("%d %q, body %.80q; want %d %s containing %q", rec.Code, rec.Header().Get("Content-Type"), body, c.status, c.contentType, c.contains)
			}
			for name, want := range map[string]string{
				"Content-Security-Policy": "script-src 'self'", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			} {
				if got := rec.Header().Get(name); !strings.Contains(got, want) {
					t.Errorf("%s: %q, want it to hold %q", name, got, want)
				}
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("Content-Security-Policy %q: want frame-ancestors 'none' and no unsafe-inline", csp)
			}
		})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ui/", nil))
	inline := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=`)
	if m := inline.FindString(rec.Body.String()); m != "" {
		t.Errorf("index.html has inline script or style: %q", m)
	}
}

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/registry"
)

// TestImagesPush runs `baton images push` against a real registry (TLS
// with a test CA, htpasswd logins): a local image by name or by reference,
// or an archive by path, prints REF@sha256:... and the tag then pins to
// that digest; the password comes only from standard input and shows in
// no error or output.
func TestImagesPush(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := testenv.StartRegistry(t, true)
	images := testenv.Images(t)
	pinner, err := registry.NewPinner(registry.Hosts{CAFile: reg.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	cred := &registry.Credential{Username: reg.Username, Password: reg.Password}

	run := func(t *testing.T, stdin string, args ...string) (string, error) {
		t.Helper()
		root := rootCmd()
		var out, errOut bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetIn(strings.NewReader(stdin))
		root.SetArgs(append([]string{"images", "push"}, args...))
		err := root.ExecuteContext(ctx)
		for what, s := range map[string]string{"output": out.String(), "error output": errOut.String()} {
			if strings.Contains(s, reg.Password) {
				t.Errorf("the %s shows the password:\n%s", what, s)
			}
		}
		if err != nil && strings.Contains(err.Error(), reg.Password) {
			t.Errorf("the error shows the password: %v", err)
		}
		return out.String(), err
	}
	login := []string{"--registry-ca", reg.CAFile, "--username", reg.Username, "--password-stdin", "--images", images}

	sources := []struct{ name, src string }{
		{"a local image by name", "testfn-ok"},
		{"a local image by reference", "baton.local/testfn-ok:v1"},
		{"an archive by path", filepath.Join(images, "testfn-ok.tar")},
	}
	var first string
	for i, s := range sources {
		t.Run(s.name, func(t *testing.T) {
			ref := reg.Host + "/acme/testfn:" + string(rune('1'+i))
			out, err := run(t, reg.Password+"\n", append([]string{s.src, ref}, login...)...)
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`^` + regexp.QuoteMeta(ref) + `@(sha256:[0-9a-f]{64})\n$`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("output %q, want %s@sha256:... and nothing else", out, ref)
			}
			pinned, err := pinner.Pin(ctx, ref, cred)
			if err != nil {
				t.Fatal(err)
			}
			if pinned.Digest != m[1] {
				t.Fatalf("%s pins to %s, push printed %s", ref, pinned.Digest, m[1])
			}
			if first == "" {
				first = m[1]
			} else if m[1] != first {
				t.Fatalf("the same archive pushed as %s and %s", first, m[1])
			}
		})
	}

	ref := reg.Host + "/acme/testfn:9"
	failures := []struct {
		name  string
		stdin string
		args  []string
		want  []string
	}{
		{"wrong password", "not-the-password-9e2\n", append([]string{"testfn-ok", ref}, login...), []string{"refused the login", reg.Host}},
		{"no login", "", []string{"testfn-ok", ref, "--registry-ca", reg.CAFile, "--images", images}, []string{"refused the login", "--password-stdin"}},
		{"the password as a flag", "", []string{"testfn-ok", ref, "--username", reg.Username, "--password=" + reg.Password, "--images", images}, []string{"--password-stdin"}},
		{"a user without --password-stdin", "", []string{"testfn-ok", ref, "--username", reg.Username, "--images", images}, []string{"--password-stdin"}},
		{"--password-stdin without a user", reg.Password, []string{"testfn-ok", ref, "--password-stdin", "--images", images}, []string{"--username"}},
		{"an empty standard input", "\n", append([]string{"testfn-ok", ref}, login...), []string{"no password"}},
		{"a local image not built", reg.Password, append([]string{"fn-nope", ref}, login...), []string{"fn-nope.tar", "testfn-ok"}},
		{"a local image under another tag", reg.Password, append([]string{"baton.local/testfn-ok:v2", ref}, login...), []string{"baton.local/testfn-ok:v1"}},
		{"an archive that is not there", reg.Password, append([]string{"./nope.tar", ref}, login...), []string{"./nope.tar", "no such file"}},
		{"no CA for the registry", reg.Password, []string{"testfn-ok", ref, "--username", reg.Username, "--password-stdin", "--images", images}, []string{"--registry-ca"}},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			out, err := run(t, f.stdin, f.args...)
			if err == nil {
				t.Fatalf("push succeeded: %s", out)
			}
			t.Logf("baton images push: %v", err)
			for _, w := range f.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
			if out != "" {
				t.Errorf("a failed push printed %q", out)
			}
		})
	}
	if _, err := pinner.Pin(ctx, ref, cred); err == nil {
		t.Errorf("%s exists after only failed pushes", ref)
	}
}

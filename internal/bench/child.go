package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// runChild runs this executable with args as a child process (a bench's
// load client, so that the process measured is Baton's alone), writes in
// to its standard input as JSON (an API key never shows in a command
// line) and decodes its standard output into out.
func runChild(ctx context.Context, args []string, in, out any) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("client process: %w", err)
	}
	input, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("client process: %w", err)
	}
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(input), &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("client process: %w", err)
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("client process: decode its result: %w", err)
	}
	return nil
}

// decodeChildInput is the child's side of runChild: it decodes its
// standard input into in, refusing unknown fields.
func decodeChildInput(stdin io.Reader, in any) error {
	dec := json.NewDecoder(stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		return fmt.Errorf("decode the load on stdin: %w", err)
	}
	return nil
}

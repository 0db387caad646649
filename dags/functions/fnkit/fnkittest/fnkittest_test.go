package fnkittest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"baton.dev/baton/dags/functions/fnkit"
)

func TestRejectionProblem(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantMention string
		wantProblem string // "" when the rejection is right, else a substring of the problem
	}{
		{"bad input naming the field", fmt.Errorf("%w: width must be positive", fnkit.ErrBadInput), "width", ""},
		{"accepted", nil, "width", "want one wrapping fnkit.ErrBadInput"},
		{"internal error", errors.New("width: disk on fire"), "width", "want one wrapping fnkit.ErrBadInput"},
		{"bad input naming another field", fmt.Errorf("%w: height must be positive", fnkit.ErrBadInput), "width", `does not mention "width"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rejectionProblem(tt.err, tt.wantMention)
			if tt.wantProblem == "" && got != "" || !strings.Contains(got, tt.wantProblem) {
				t.Errorf("rejectionProblem(%v, %q) = %q, want %q", tt.err, tt.wantMention, got, tt.wantProblem)
			}
		})
	}
}

package workflow

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// autoQuantity is the spelling of an automatically chosen resource.
const autoQuantity = "auto"

// maxQuantityLen bounds the text of a quantity so arithmetic stays cheap.
const maxQuantityLen = 64

const cpuHint = `want millicores like "250m", cores like "1" or "0.5", or "auto"`

const memoryHint = `want bytes like "1073741824", or a number with a suffix ` +
	`Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024) or k, M, G, T, P, E (powers of 1000) like "512Mi", or "auto"`

// memorySuffix is a memory suffix and its multiplier.
type memorySuffix struct {
	suffix string
	mult   int64
}

// memorySuffixes lists memory suffixes, each binary one before the decimal
// one it ends like ("Ei" before "E"); String picks the largest exact one.
func memorySuffixes() []memorySuffix {
	return []memorySuffix{
		{"Ei", 1 << 60}, {"E", 1e18},
		{"Pi", 1 << 50}, {"P", 1e15},
		{"Ti", 1 << 40}, {"T", 1e12},
		{"Gi", 1 << 30}, {"G", 1e9},
		{"Mi", 1 << 20}, {"M", 1e6},
		{"Ki", 1 << 10}, {"k", 1e3},
	}
}

// ParseCPU parses a CPU quantity: "auto", millicores ("250m", "2000m") or
// cores ("1", "0.5"). The amount must be a positive whole number of millicores.
func ParseCPU(s string) (CPU, error) {
	if s == autoQuantity {
		return CPU{Auto: true}, nil
	}
	num, mult := s, int64(1000)
	if strings.HasSuffix(s, "m") {
		num, mult = strings.TrimSuffix(s, "m"), 1
	}
	v, err := scaleDecimal(num, mult, "millicores")
	if err != nil {
		return CPU{}, fmt.Errorf("invalid CPU quantity %q: %w", s, quantityErr(err, cpuHint))
	}
	return CPU{Milli: v}, nil
}

// ParseMemory parses a memory quantity: "auto", plain bytes ("1073741824")
// or a number with a binary (Ki..Ei) or decimal (k..E) suffix ("512Mi",
// "512M", "1.5Gi"). The amount must be a positive whole number of bytes.
func ParseMemory(s string) (Memory, error) {
	if s == autoQuantity {
		return Memory{Auto: true}, nil
	}
	num, mult := s, int64(1)
	for _, sf := range memorySuffixes() {
		if strings.HasSuffix(s, sf.suffix) {
			num, mult = strings.TrimSuffix(s, sf.suffix), sf.mult
			break
		}
	}
	v, err := scaleDecimal(num, mult, "bytes")
	if err != nil {
		return Memory{}, fmt.Errorf("invalid memory quantity %q: %w", s, quantityErr(err, memoryHint))
	}
	return Memory{Bytes: v}, nil
}

// String formats c so that ParseCPU reads it back: "auto", whole cores as
// "2", anything else as millicores "250m".
func (c CPU) String() string {
	switch {
	case c.Auto:
		return autoQuantity
	case c.Milli != 0 && c.Milli%1000 == 0:
		return strconv.FormatInt(c.Milli/1000, 10)
	case c.Milli == 0:
		return "0"
	default:
		return strconv.FormatInt(c.Milli, 10) + "m"
	}
}

// String formats m so that ParseMemory reads it back: "auto", or the amount
// with the largest suffix that divides it exactly ("512Mi", "512M"), or bytes.
func (m Memory) String() string {
	if m.Auto {
		return autoQuantity
	}
	return formatBytes(m.Bytes)
}

// formatBytes writes n with the largest exact suffix, or as plain bytes.
func formatBytes(n int64) string {
	if n > 0 {
		best, bestMult := "", int64(1)
		for _, sf := range memorySuffixes() {
			if n%sf.mult == 0 && sf.mult > bestMult {
				best, bestMult = sf.suffix, sf.mult
			}
		}
		if best != "" {
			return strconv.FormatInt(n/bestMult, 10) + best
		}
	}
	return strconv.FormatInt(n, 10)
}

// formatMilli writes millicores the way CPU.String does.
func formatMilli(n int64) string { return CPU{Milli: n}.String() }

// errSyntax marks a quantity whose text is not a number; quantityErr adds a hint.
type errSyntax struct{}

// Error says the text is not a quantity.
func (errSyntax) Error() string { return "not a quantity" }

// quantityErr replaces a syntax error by the hint of the quantity's family.
func quantityErr(err error, hint string) error {
	if errors.As(err, new(errSyntax)) {
		return fmt.Errorf("%s", hint)
	}
	return err
}

// scaleDecimal parses an unsigned decimal (digits, optionally a fraction)
// and multiplies it by mult; the result must be a positive whole int64.
// unit names the result's unit in messages.
func scaleDecimal(num string, mult int64, unit string) (int64, error) {
	neg := strings.HasPrefix(num, "-")
	digits := strings.TrimPrefix(num, "-")
	if len(num) > maxQuantityLen || !isDecimal(digits) {
		return 0, errSyntax{}
	}
	if neg {
		return 0, fmt.Errorf("must be positive")
	}
	r, ok := new(big.Rat).SetString(digits)
	if !ok {
		return 0, errSyntax{}
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	switch {
	case r.Sign() <= 0:
		return 0, fmt.Errorf("must be positive")
	case !r.IsInt():
		return 0, fmt.Errorf("not a whole number of %s", unit)
	case !r.Num().IsInt64():
		return 0, fmt.Errorf("too large")
	}
	return r.Num().Int64(), nil
}

// isDecimal reports whether s is digits with an optional fractional part:
// "12", "0.5", ".5". No sign, exponent, spaces or underscores.
func isDecimal(s string) bool {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if !allDigits(intPart) || !allDigits(frac) {
		return false
	}
	if hasDot {
		return frac != ""
	}
	return intPart != ""
}

// allDigits reports whether s has only ASCII digits (true for "").
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

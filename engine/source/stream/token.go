package stream

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// TokenSize is the size of a token in bytes; its text form has twice as
// many hex digits.
const TokenSize = 32

// NewToken returns a fresh random token and its text form (64 lowercase hex
// digits), which the server prints on its ready line.
func NewToken() ([]byte, string, error) {
	b := make([]byte, TokenSize)
	if _, err := rand.Read(b); err != nil {
		return nil, "", fmt.Errorf("generate stream token: %w", err)
	}
	return b, hex.EncodeToString(b), nil
}

// ParseToken reads a token's text form; surrounding white space (the
// trailing newline of a token file) is ignored. The error never repeats
// the text, which may be a mistyped secret.
func ParseToken(text string) ([]byte, error) {
	t := strings.TrimSpace(text)
	if len(t) != 2*TokenSize {
		return nil, fmt.Errorf("parse stream token: %d characters, want %d hex digits", len(t), 2*TokenSize)
	}
	b, err := hex.DecodeString(t)
	if err != nil {
		return nil, fmt.Errorf("parse stream token: not hex digits")
	}
	return b, nil
}

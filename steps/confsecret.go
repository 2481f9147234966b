package steps

import (
	"regexp"
	"strings"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// diffMask stands in for a password in a file diff.
const diffMask = "********"

// confPassword matches password=... inside a postgresql.conf value, where
// the conninfo itself sits in single quotes and its own quotes are doubled:
// a quoted password is written between pairs of single quotes.
var confPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)(''(?:[^']|'''')*?''|[^\s']+)`)

// maskConfSecrets hides the passwords of connection strings in the text of
// a configuration file, for diffs: password=secret becomes
// password=********, a URL's user:secret@ becomes user:********@, and any
// of the known secrets (taken from the step's own parameters) left over,
// however quoted, is masked too.
func maskConfSecrets(text string, secrets []string) string {
	if text == "" {
		return text
	}
	s := confPassword.ReplaceAllString(text, "${1}"+diffMask)
	s = urlPassword.ReplaceAllString(s, "${1}:"+diffMask+"@")
	for _, p := range secrets {
		p = strings.Trim(p, "'")
		if p == "" {
			continue
		}
		s = strings.ReplaceAll(s, strings.ReplaceAll(p, "'", "''"), diffMask)
		s = strings.ReplaceAll(s, p, diffMask)
	}
	return s
}

// maskDiffs applies maskConfSecrets to both sides of every diff.
func maskDiffs(diffs []runbook.FileDiff, secrets []string) []runbook.FileDiff {
	for i := range diffs {
		diffs[i].Before = maskConfSecrets(diffs[i].Before, secrets)
		diffs[i].After = maskConfSecrets(diffs[i].After, secrets)
	}
	return diffs
}

package remote

import (
	"errors"
	"strings"
	"testing"
)

// TestRedactUnparsed covers connection strings that do not parse, so the
// driver gives no password and masks its own echo of them imperfectly: a
// quoted password with a space and no closing quote.
func TestRedactUnparsed(t *testing.T) {
	for _, conninfo := range []string{
		"host=h port=1 password='Sek ret99",
		"host=h port=1 password='Sek ret99' sslmode=bogus",
	} {
		r := newRedactor(conninfo, "")
		// pgx's own masking replaced the first word only.
		err := r.wrap("parse connection string", errors.New("cannot parse `host=h port=1 password=xxxxx ret99`"))
		for _, s := range []string{r.conninfo, err.Error()} {
			if strings.Contains(s, "Sek") || strings.Contains(s, "ret99") {
				t.Errorf("%q: password words left in %q", conninfo, s)
			}
		}
	}
}

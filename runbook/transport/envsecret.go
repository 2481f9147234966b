package transport

import (
	"fmt"
	"sort"
	"strings"
)

// secretEnvWords mark environment variables that hold secrets (PGPASSWORD,
// VAULT_TOKEN, AWS_SECRET_ACCESS_KEY): the same words the executor's
// redactor treats as secret variable names.
var secretEnvWords = []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN"}

// checkEnvOffLine refuses an Env that would put a secret on the command
// line, where every user of the host reads it in the process list
// (/proc/<pid>/cmdline). That is where Env goes under become, because sudo
// resets the environment, and when sshd refuses setenv. A secret belongs on
// Stdin or in a 0600 file (a libpq passfile) instead; the built-in steps
// do so.
func checkEnvOffLine(env map[string]string) error {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		upper := strings.ToUpper(k)
		for _, w := range secretEnvWords {
			if strings.Contains(upper, w) {
				return fmt.Errorf("build command: environment variable %s holds a secret and would be visible in the host's process list on the command line (under become, or where sshd refuses setenv): pass it on stdin or in a file only its user can read", k)
			}
		}
	}
	return nil
}

package transport

import (
	"context"
	"strings"
	"testing"
)

func TestSecretEnvNeverOnTheLine(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       map[string]string
		envOnLine bool
		refused   bool
	}{
		{"password on the line", map[string]string{"PGPASSWORD": "s3cret"}, true, true},
		{"token on the line", map[string]string{"LC_ALL": "C", "vault_token": "t"}, true, true},
		{"secret key on the line", map[string]string{"AWS_SECRET_ACCESS_KEY": "k"}, true, true},
		{"password by setenv", map[string]string{"PGPASSWORD": "s3cret"}, false, false},
		{"innocent names on the line", map[string]string{"LC_ALL": "C", "PGCONNECT_TIMEOUT": "5", "PGPASSFILE": "/p"}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, err := shellLine(Command{Argv: []string{"true"}, Become: "postgres", Env: tc.env}, tc.envOnLine)
			if tc.refused {
				if err == nil || !strings.Contains(err.Error(), "process list") {
					t.Fatalf("shellLine = %q, %v; want a refusal", line, err)
				}
				for _, v := range tc.env {
					if strings.Contains(err.Error(), "="+v) {
						t.Errorf("the refusal shows the value: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("shellLine: %v", err)
			}
		})
	}
}

func TestLocalEnvInTheEnvironment(t *testing.T) {
	res, err := NewLocal().Exec(context.Background(), Command{
		Script: `echo "$PGPASSWORD"; tr '\0' ' ' </proc/$$/cmdline`,
		Env:    map[string]string{"PGPASSWORD": "Env-s3cret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines) != 2 || lines[0] != "Env-s3cret" {
		t.Fatalf("stdout %q, want the variable's value first", res.Stdout)
	}
	if strings.Contains(lines[1], "Env-s3cret") {
		t.Errorf("the value is on the shell's command line: %s", lines[1])
	}
}

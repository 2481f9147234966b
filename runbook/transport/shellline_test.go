package transport

import (
	"strings"
	"testing"
)

func TestShellLine(t *testing.T) {
	plain := func(program string) string { return strings.Replace(watchdog, "%s", program, 1) }
	withStdin := func(program string) string { return strings.Replace(watchdogStdin, "%s", program, 1) }
	tests := []struct {
		name      string
		cmd       Command
		envOnLine bool
		want      string
		wantErr   string
	}{
		{name: "argv", cmd: Command{Argv: []string{"pg_ctl", "-D", "/my data", "status"}},
			want: plain("pg_ctl -D '/my data' status")},
		{name: "script", cmd: Command{Script: "echo $HOME"},
			want: plain(`sh -c 'echo $HOME'`)},
		{name: "stdin", cmd: Command{Argv: []string{"cat"}, Stdin: strings.NewReader("")},
			want: withStdin("cat")},
		{name: "dir", cmd: Command{Argv: []string{"ls"}, Dir: "/var/lib/it's"},
			want: "cd '/var/lib/it'\\''s' || exit\n" + plain("ls")},
		{name: "env on line", cmd: Command{Argv: []string{"env"}, Env: map[string]string{"B": "2 3", "A": "1", "C": ""}}, envOnLine: true,
			want: plain("A=1 B='2 3' C='' env")},
		{name: "env passed by setenv", cmd: Command{Argv: []string{"env"}, Env: map[string]string{"A": "1"}},
			want: plain("env")},
		{name: "become", cmd: Command{Argv: []string{"id"}, Become: "postgres"},
			want: "cd / && exec sudo -n -u postgres -- sh -c " + Quote(plain("id"))},
		{name: "become dir env stdin", cmd: Command{Argv: []string{"id"}, Become: "postgres", Dir: "/pg", Env: map[string]string{"PGDATA": "/pg"}, Stdin: strings.NewReader("")}, envOnLine: true,
			want: "cd / && exec sudo -n -u postgres -- sh -c " + Quote("cd /pg || exit 1\n"+withStdin("PGDATA=/pg id"))},
		{name: "both argv and script", cmd: Command{Argv: []string{"id"}, Script: "id"}, wantErr: "both argv and script"},
		{name: "neither", cmd: Command{}, wantErr: "neither argv nor script"},
		{name: "bad env name", cmd: Command{Argv: []string{"id"}, Env: map[string]string{"A B": "1"}}, wantErr: `invalid environment variable name "A B"`},
		{name: "env name with digit first", cmd: Command{Argv: []string{"id"}, Env: map[string]string{"1A": "1"}}, wantErr: "invalid environment variable name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := shellLine(tt.cmd, tt.envOnLine)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("line\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestFramedStdin(t *testing.T) {
	tests := []struct {
		in   string
		nil_ bool
		want string
	}{
		{nil_: true, want: "0\n"},
		{in: "", want: "0\n"},
		{in: "abc", want: "3\nabc0\n"},
		{in: "0\n", want: "2\n0\n0\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		var err error
		if tt.nil_ {
			err = writeFramed(&b, nil)
		} else {
			err = writeFramed(&b, strings.NewReader(tt.in))
		}
		if err != nil || b.String() != tt.want {
			t.Errorf("writeFramed(%q) = %q, %v; want %q", tt.in, b.String(), err, tt.want)
		}
	}
}

func TestDrainLines(t *testing.T) {
	tests := []struct {
		in    string
		lines []string
	}{
		{"", nil},
		{"a\n", []string{"a"}},
		{"a\nb", []string{"a", "b"}},
		{"\n\n", []string{"", ""}},
		{"a\r\nb\n", []string{"a\r", "b"}},
	}
	for _, tt := range tests {
		var lines []string
		all, err := drainLines(strings.NewReader(tt.in), func(l string) { lines = append(lines, l) })
		if err != nil || all != tt.in || strings.Join(lines, "|") != strings.Join(tt.lines, "|") || len(lines) != len(tt.lines) {
			t.Errorf("drainLines(%q) = %q %q %v; want lines %q", tt.in, all, lines, err, tt.lines)
		}
	}
}

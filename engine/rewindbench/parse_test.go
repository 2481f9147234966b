package rewindbench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPgRewindFetched(t *testing.T) {
	tests := []struct {
		name    string
		output  string
		want    int64
		wantErr string
	}{
		{
			name: "progress rewritten in place, last line wins",
			output: "pg_rewind: need to copy 1460 MB (total source directory size is 1502 MB)\n" +
				"     0/1495040 kB (0%) copied\r 712034/1495040 kB (47%) copied\r1495102/1495040 kB (100%) copied\n" +
				"pg_rewind: creating backup label and updating control file\npg_rewind: Done!\n",
			want: 1495102 * 1024,
		},
		{
			name:   "nothing to copy",
			output: "pg_rewind: need to copy 0 MB (total source directory size is 22 MB)\n0/0 kB (100%) copied\npg_rewind: Done!\n",
			want:   0,
		},
		{
			name:    "no rewind needed prints no progress",
			output:  "pg_rewind: no rewind required\n",
			wantErr: "no \"kB (100%) copied\" line",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pgRewindFetched(tt.output)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("pgRewindFetched: err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("pgRewindFetched = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestReadReport(t *testing.T) {
	tests := []struct {
		name    string
		report  string
		want    rewindReport
		wantErr string
	}{
		{name: "SQL", report: `{"rewind_needed": true, "bytes_fetched": 1234567, "bytes_transferred": 1234567, "transfer": "sql"}`,
			want: rewindReport{fetched: 1234567, transferred: 1234567, transfer: "sql"}},
		{name: "stream", report: `{"bytes_fetched": 1234567, "bytes_transferred": 301234, "transfer": "stream"}`,
			want: rewindReport{fetched: 1234567, transferred: 301234, transfer: "stream"}},
		{name: "an engine before bytes_transferred", report: `{"rewind_needed": true, "bytes_fetched": 1234567, "duration_ms": 5}`,
			want: rewindReport{fetched: 1234567, transferred: 1234567}},
		{name: "zero is a value", report: `{"rewind_needed": false, "bytes_fetched": 0, "bytes_transferred": 0, "transfer": "sql"}`,
			want: rewindReport{transfer: "sql"}},
		{name: "stream without bytes_transferred", report: `{"bytes_fetched": 5, "transfer": "stream"}`, wantErr: "without bytes_transferred"},
		{name: "missing field", report: `{"rewind_needed": true}`, wantErr: "no bytes_fetched"},
		{name: "not JSON", report: `bytes_fetched: 3`, wantErr: "read rewind report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "report.json")
			if err := os.WriteFile(path, []byte(tt.report), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readReport(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readReport: err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("readReport = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSyncModes(t *testing.T) {
	tests := []struct {
		in      string
		want    []bool
		wantErr bool
	}{
		{in: "", want: []bool{false}},
		{in: "off", want: []bool{false}},
		{in: "on", want: []bool{true}},
		{in: "both", want: []bool{false, true}},
		{in: "yes", wantErr: true},
	}
	for _, tt := range tests {
		got, err := syncModes(tt.in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("syncModes(%q): err = %v, want error %t", tt.in, err, tt.wantErr)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("syncModes(%q) = %v, want %v", tt.in, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("syncModes(%q) = %v, want %v", tt.in, got, tt.want)
			}
		}
	}
}

func TestParseReady(t *testing.T) {
	token := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name    string
		line    string
		want    readyLine
		wantErr string
	}{
		{name: "ready", line: `{"listen":"127.0.0.1:40123","token":"` + token + `"}` + "\n",
			want: readyLine{Listen: "127.0.0.1:40123", Token: token}},
		{name: "no line at all", line: "", wantErr: "read rewind-serve ready line"},
		{name: "no port", line: `{"listen":"127.0.0.1","token":"` + token + `"}`, wantErr: `listen "127.0.0.1"`},
		{name: "short token", line: `{"listen":"127.0.0.1:1","token":"abc"}`, wantErr: "(3 characters)"},
		{name: "uppercase token", line: `{"listen":"127.0.0.1:1","token":"` + strings.ToUpper(token) + `"}`, wantErr: "64 lowercase hex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseReady(tt.line)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseReady: err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(strings.ToLower(err.Error()), token) {
					t.Fatalf("parseReady: the error quotes the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("parseReady = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseRounds(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]int
		wantErr bool
	}{
		{in: "", want: map[string]int{"loopback": 3, "100mbit": 1, "20ms": 3}},
		{in: " 5 ", want: map[string]int{"loopback": 5, "100mbit": 5, "20ms": 5}},
		{in: "1", want: map[string]int{"loopback": 1, "100mbit": 1, "20ms": 1}},
		{in: "20", want: map[string]int{"loopback": 20, "100mbit": 20, "20ms": 20}},
		{in: "0", wantErr: true},
		{in: "21", wantErr: true},
		{in: "-2", wantErr: true},
		{in: "three", wantErr: true},
	}
	for _, tt := range tests {
		n, err := parseRounds(tt.in)
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), "PGRUNBOOK_BENCH_ROUNDS") {
				t.Errorf("parseRounds(%q): err = %v, want one naming PGRUNBOOK_BENCH_ROUNDS", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("parseRounds(%q): %v", tt.in, err)
		}
		for _, l := range links {
			if got := roundsOver(l, n); got != tt.want[l.name] {
				t.Errorf("PGRUNBOOK_BENCH_ROUNDS=%q: %d rounds over %s, want %d", tt.in, got, l.name, tt.want[l.name])
			}
		}
	}
}

func TestRoundCount(t *testing.T) {
	for n, want := range map[int]string{1: "1 round", 3: "3 rounds", 20: "20 rounds"} {
		if got := roundCount(n); got != want {
			t.Errorf("roundCount(%d) = %q, want %q", n, got, want)
		}
	}
}

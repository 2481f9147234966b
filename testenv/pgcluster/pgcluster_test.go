package pgcluster

import "testing"

func TestQuoteConf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"/tmp/x", "'/tmp/x'"},
		{"it's", "'it''s'"},
		{`cp "%p" "/a/%f"`, `'cp "%p" "/a/%f"'`},
	}
	for _, tt := range tests {
		if got := QuoteConf(tt.in); got != tt.want {
			t.Errorf("QuoteConf(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseLSN(t *testing.T) {
	tests := []struct {
		in      string
		want    LSN
		wantErr bool
	}{
		{"0/0", 0, false},
		{"0/16B3748", 0x16B3748, false},
		{"1/0", 1 << 32, false},
		{"FFFFFFFF/FFFFFFFF", ^LSN(0), false},
		{"0/00000010", 0x10, false},
		{"16B3748", 0, true},
		{"/1", 0, true},
		{"x/1", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLSN(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseLSN(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseLSN(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if !tt.wantErr && tt.in != "0/00000010" && got.String() != tt.in {
			t.Errorf("LSN(%q).String() = %s", tt.in, got.String())
		}
	}
}

func TestQuoteConnValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/tmp/sock", "/tmp/sock"},
		{"", "''"},
		{"a b", "'a b'"},
		{`it's`, `'it\'s'`},
		{`back\slash`, `'back\\slash'`},
	}
	for _, tt := range tests {
		if got := quoteConnValue(tt.in); got != tt.want {
			t.Errorf("quoteConnValue(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

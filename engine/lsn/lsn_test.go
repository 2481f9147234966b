package lsn

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    LSN
		wantErr bool
	}{
		{in: "0/0", want: 0},
		{in: "0/3002EB0", want: 0x3002EB0},
		{in: "0/03002EB0", want: 0x3002EB0},
		{in: "16/B374D848", want: 0x16B374D848},
		{in: "ffffffff/ffffffff", want: 0xFFFFFFFFFFFFFFFF},
		{in: "", wantErr: true},
		{in: "0", wantErr: true},
		{in: "/1", wantErr: true},
		{in: "1/", wantErr: true},
		{in: "0/123456789", wantErr: true},
		{in: "0/-1", wantErr: true},
		{in: "0/+1", wantErr: true},
		{in: "0x1/2", wantErr: true},
		{in: "1/2/3", wantErr: true},
		{in: " 1/2", wantErr: true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("Parse(%q) = %v, want error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		in   LSN
		want string
	}{
		{0, "0/0"},
		{0x3002EB0, "0/3002EB0"},
		{0x100000000, "1/0"},
		{0x16B374D848, "16/B374D848"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("LSN(%#x).String() = %q, want %q", uint64(tt.in), got, tt.want)
		}
		back, err := Parse(tt.want)
		if err != nil || back != tt.in {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.want, back, err, tt.in)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0/0", "0/3002EB0", "0/03002EB0", "FFFFFFFF/FFFFFFFF", "1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(p.String())
		if err != nil || back != p {
			t.Fatalf("round trip of %q: %v, %v", s, back, err)
		}
	})
}

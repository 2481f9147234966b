package remote

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestLearnTLS(t *testing.T) {
	for _, tc := range []struct {
		name, conninfo string
		secure         bool
		wantTLS        bool
		wantFallbacks  int
	}{
		{"prefer, server refused TLS", "host=db.example port=5432 sslmode=prefer", false, false, 0},
		{"prefer is the default", "host=db.example port=5432", false, false, 0},
		{"prefer, TLS worked", "host=db.example port=5432 sslmode=prefer", true, true, 1},
		{"allow, plain worked", "host=db.example port=5432 sslmode=allow", false, false, 0},
		{"require has no plain way", "host=db.example port=5432 sslmode=require", false, true, 0},
		{"disable stays", "host=db.example port=5432 sslmode=disable", false, false, 0},
		{"several hosts stay", "host=a.example,b.example port=5432 sslmode=prefer", false, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := pgx.ParseConfig(tc.conninfo)
			if err != nil {
				t.Fatal(err)
			}
			learnTLS(cfg, tc.secure)
			if gotTLS := cfg.TLSConfig != nil; gotTLS != tc.wantTLS || len(cfg.Fallbacks) != tc.wantFallbacks {
				t.Fatalf("TLS %v with %d fallbacks, want TLS %v with %d", gotTLS, len(cfg.Fallbacks), tc.wantTLS, tc.wantFallbacks)
			}
			if cfg.Host != "db.example" && tc.wantFallbacks == 0 {
				t.Fatalf("host became %q", cfg.Host)
			}
		})
	}
}

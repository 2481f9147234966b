package testenv

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// passwordAlphabet keeps the password free of anything that would need
// quoting in SQL, a passfile, a conninfo or YAML.
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newPassword returns a fresh random password for the rewind role.
func newPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make the rewind role's password: %w", err)
	}
	for i := range b {
		b[i] = passwordAlphabet[int(b[i])%len(passwordAlphabet)]
	}
	return string(b), nil
}

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// scramVerifier computes the SCRAM-SHA-256 verifier PostgreSQL stores for
// password (RFC 5802/7677, as PostgreSQL writes it), so that the password
// itself is never sent to the server: with log_statement = 'all', an ALTER
// ROLE ... PASSWORD 'secret' would land in the server log. The password is
// plain ASCII (newPassword), which SASLprep leaves as it is.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("scram salt: %w", err)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("scram salted password: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, enc(salt), enc(storedKey[:]), enc(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// createRewindRole creates RewindRole on primary: pgcluster's four EXECUTE
// grants, REPLICATION for streaming, CONNECT on postgres, pg_read_all_data
// (the verify step of playbooks/rejoin.yml compares every table as this
// role), and the password, given to the server as a verifier only.
func createRewindRole(ctx context.Context, primary *pgcluster.Cluster, password string) error {
	if err := primary.CreateRewindRole(ctx, RewindRole); err != nil {
		return err
	}
	verifier, err := scramVerifier(password)
	if err != nil {
		return err
	}
	sql := fmt.Sprintf("ALTER ROLE %s REPLICATION PASSWORD '%s'; GRANT CONNECT ON DATABASE postgres TO %s; GRANT pg_read_all_data TO %s",
		RewindRole, verifier, RewindRole, RewindRole)
	if err := primary.Exec(ctx, "postgres", sql); err != nil {
		return fmt.Errorf("set up role %s on %s: %w", RewindRole, primary.Name, err)
	}
	return nil
}

// writePassFile writes a libpq password file for the rewind role, owned
// by postgres with the 0600 libpq insists on.
func writePassFile(path, password string) error {
	pg, err := osUser("postgres")
	if err != nil {
		return err
	}
	line := fmt.Sprintf("*:%d:*:%s:%s\n", PGPort, RewindRole, password)
	if err := writeFileAtomic(path, []byte(line), 0o600); err != nil {
		return err
	}
	if err := os.Chown(path, pg.uid, pg.gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

package testenv

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// writeKeyPair generates an ed25519 key, writes its private half to path in
// OpenSSH format (0600, which sshd insists on for host keys) and its public
// half to path+".pub", and returns the public key.
func writeKeyPair(path, comment string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key %s: %w", path, err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, fmt.Errorf("encode key %s: %w", path, err)
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key %s: %w", path, err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " " + comment + "\n"
	if err := writeFileAtomic(path+".pub", []byte(line), 0o644); err != nil {
		return nil, err
	}
	return sshPub, nil
}

// knownHostsLine is the known_hosts entry of a host key at addr:port.
func knownHostsLine(addr string, port int, key ssh.PublicKey) string {
	return knownhosts.Line([]string{knownhosts.Normalize(fmt.Sprintf("%s:%d", addr, port))}, key)
}

// sshAuthorizedKey is key as an authorized_keys line.
func sshAuthorizedKey(key ssh.PublicKey) []byte { return ssh.MarshalAuthorizedKey(key) }

package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// auth is the set of keys one hop offers, and the agent socket (if any)
// that must be closed once the handshake is over.
type auth struct {
	method ssh.AuthMethod
	agent  net.Conn
}

// close releases the agent socket; agent.NewClient reads from it in a
// goroutine that would otherwise live as long as the process.
func (a *auth) close() {
	if a.agent != nil {
		a.agent.Close()
	}
}

// loadAuth reads the key files of cfg and, with UseAgent, connects to the
// agent at $SSH_AUTH_SOCK. Key files are offered before agent keys.
func loadAuth(ctx context.Context, cfg SSHConfig) (*auth, error) {
	var signers []ssh.Signer
	for _, path := range cfg.KeyFiles {
		s, err := readKeyFile(path)
		if err != nil {
			return nil, err
		}
		signers = append(signers, s)
	}
	a := &auth{}
	var ag agent.ExtendedAgent
	if cfg.UseAgent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, errors.New("connect to ssh-agent: SSH_AUTH_SOCK is not set")
		}
		d := net.Dialer{Timeout: cfg.ConnectTimeout}
		conn, err := d.DialContext(ctx, "unix", sock)
		if err != nil {
			return nil, fmt.Errorf("connect to ssh-agent %s: %w", sock, err)
		}
		a.agent = conn
		ag = agent.NewClient(conn)
	}
	if len(signers) == 0 && ag == nil {
		return nil, errors.New("load ssh keys: no key files and no agent configured")
	}
	a.method = ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		if ag == nil {
			return signers, nil
		}
		fromAgent, err := ag.Signers()
		if err != nil {
			return nil, fmt.Errorf("list ssh-agent keys: %w", err)
		}
		return append(append([]ssh.Signer(nil), signers...), fromAgent...), nil
	})
	return a, nil
}

// readKeyFile parses one private key file. Passphrase-protected keys are
// refused rather than prompted for: runs are unattended, and the agent is
// the place for such keys.
func readKeyFile(path string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ssh key %s: %w", path, err)
	}
	s, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("read ssh key %s: key is passphrase-protected; add it to ssh-agent and set use_agent instead", path)
	}
	if err != nil {
		return nil, fmt.Errorf("parse ssh key %s: %w", path, err)
	}
	return s, nil
}

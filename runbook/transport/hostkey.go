package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ErrHostKey marks errors where a host's key could not be verified against
// known_hosts: the host is unknown, its key differs from the recorded one,
// or the key is revoked. Such errors match ErrUnreachable too, since the
// host is not reached; callers that want to tell the operator to fix
// known_hosts branch on ErrHostKey.
var ErrHostKey = errors.New("host key not verified")

// HostKeyError says why a host's key was refused. It matches ErrHostKey and
// ErrUnreachable with errors.Is.
type HostKeyError struct {
	// Host is the host's name, Addr the address dialled.
	Host string
	Addr string
	// Offered is the key the host presented.
	Offered ssh.PublicKey
	// Known are the keys known_hosts records for the host; empty means the
	// host is unknown.
	Known []knownhosts.KnownKey
	// Revoked is set when Offered is marked @revoked in known_hosts.
	Revoked bool
	// Files are the known_hosts files consulted.
	Files []string
}

// Error describes the refusal with both fingerprints, so the operator can
// tell a reinstalled host from an attack.
func (e *HostKeyError) Error() string {
	offered := keyString(e.Offered)
	switch {
	case e.Revoked:
		return fmt.Sprintf("revoked host key for %s (%s): it offered %s, marked @revoked in known_hosts; refusing", e.Host, e.Addr, offered)
	case len(e.Known) == 0:
		return fmt.Sprintf("unknown host %s (%s): no entry in known_hosts (%s); it offered %s; refusing", e.Host, e.Addr, strings.Join(e.Files, ", "), offered)
	default:
		known := make([]string, len(e.Known))
		for i, k := range e.Known {
			known[i] = fmt.Sprintf("%s (%s:%d)", keyString(k.Key), k.Filename, k.Line)
		}
		return fmt.Sprintf("host key mismatch for %s (%s): known_hosts says %s, host offered %s; refusing", e.Host, e.Addr, strings.Join(known, " or "), offered)
	}
}

// Is makes a HostKeyError match ErrHostKey and ErrUnreachable.
func (e *HostKeyError) Is(target error) bool {
	return target == ErrHostKey || target == ErrUnreachable
}

// keyString renders a key as its type and SHA256 fingerprint, the form
// ssh-keygen -lf prints.
func keyString(k ssh.PublicKey) string {
	if k == nil {
		return "no key"
	}
	return k.Type() + " " + ssh.FingerprintSHA256(k)
}

// hostKeys checks host keys against a set of known_hosts files.
type hostKeys struct {
	files []string
	check ssh.HostKeyCallback
}

// loadHostKeys reads the known_hosts files. A missing or unreadable file
// is an error: silently checking against fewer files than configured would
// turn a typo into "unknown host" for every host.
func loadHostKeys(files []string) (*hostKeys, error) {
	if len(files) == 0 {
		return nil, errors.New("load known_hosts: no known_hosts files configured")
	}
	check, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("load known_hosts %s: %w", strings.Join(files, ", "), err)
	}
	return &hostKeys{files: files, check: check}, nil
}

// callback returns the HostKeyCallback for one hop. addr is the address the
// host is known by (the target's own address even when reached through a
// bastion), name its name for errors. The refusal is also stored in
// *refused, so the dialer can return it unwrapped by the handshake.
func (h *hostKeys) callback(name, addr string, refused **HostKeyError) ssh.HostKeyCallback {
	return func(_ string, remote net.Addr, key ssh.PublicKey) error {
		err := h.check(addr, remoteOrAddr(remote, addr), key)
		if err == nil {
			return nil
		}
		hkErr := &HostKeyError{Host: name, Addr: addr, Offered: key, Files: h.files}
		var keyErr *knownhosts.KeyError
		var revErr *knownhosts.RevokedError
		switch {
		case errors.As(err, &keyErr):
			hkErr.Known = keyErr.Want
		case errors.As(err, &revErr):
			hkErr.Revoked = true
		default:
			return fmt.Errorf("check host key of %s (%s): %w", name, addr, err)
		}
		*refused = hkErr
		return hkErr
	}
}

// algorithms returns the host key algorithms to ask addr for, taken from
// the keys known_hosts records for it. Without this the server may pick a
// key type that is not recorded (it has several) and a legitimate host would
// fail verification. Nil means "no entry": the default list is used and the
// callback then refuses the host with the key it offered.
func (h *hostKeys) algorithms(addr string) []string {
	err := h.check(addr, remoteOrAddr(nil, addr), probeKey)
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range keyErr.Want {
		for _, a := range algorithmsForKeyType(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// algorithmsForKeyType maps a recorded key type to the signature
// algorithms a server may use with that key: an RSA key signs with SHA-2
// (rsa-sha2-*) on any current OpenSSH, though it is recorded as ssh-rsa.
func algorithmsForKeyType(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
}

// remoteOrAddr returns remote, or when it is nil (a channel through a
// bastion has no address) a TCP address built from addr: knownhosts looks
// entries up by the address string and only needs remote to be well formed.
func remoteOrAddr(remote net.Addr, addr string) net.Addr {
	if tcp, ok := remote.(*net.TCPAddr); ok && tcp.IP != nil {
		return remote
	}
	fallback := &net.TCPAddr{IP: net.IPv4zero}
	if _, port, err := net.SplitHostPort(addr); err == nil {
		if p, err := net.LookupPort("tcp", port); err == nil {
			fallback.Port = p
		}
	}
	return fallback
}

// probeKey is a freshly generated key that no known_hosts file can hold; a
// lookup with it always fails and lists the recorded keys.
var probeKey = func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("generate probe key: %v", err))
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(fmt.Sprintf("wrap probe key: %v", err))
	}
	return k
}()

package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// AnsibleControl is a private ansible-core control node for a lab: its
// configuration, the lab's inventory and every file ansible writes on this
// machine live in one directory, so that running ansible-playbook against
// the lab touches neither ~/.ansible nor any inventory or configuration of
// the machine. Apart from where it keeps its files, ansible runs with its
// defaults.
type AnsibleControl struct {
	// Dir holds everything below.
	Dir string
	// Config is the ansible.cfg that ANSIBLE_CONFIG names.
	Config string
	// Inventory is the lab's inventory (see Lab.AnsibleInventory).
	Inventory string
	// ControlPathDir is where OpenSSH's connection-sharing masters
	// (ControlPersist) put their sockets.
	ControlPathDir string
}

// NewAnsibleControl sets up an AnsibleControl in dir (created if needed):
// ansible.cfg, the lab's inventory, and directories for ansible's home,
// its local temporary files and the ssh control sockets.
func (l *Lab) NewAnsibleControl(dir string) (*AnsibleControl, error) {
	a := &AnsibleControl{
		Dir:            dir,
		Config:         filepath.Join(dir, "ansible.cfg"),
		Inventory:      filepath.Join(dir, "inventory.yml"),
		ControlPathDir: filepath.Join(dir, "cp"),
	}
	for _, d := range []string{dir, a.home(), a.localTmp(), a.ControlPathDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("set up ansible control dir %s: %w", d, err)
		}
	}
	if err := l.WriteAnsibleInventory(a.Inventory); err != nil {
		return nil, err
	}
	// host_key_checking is ansible's default, written out because the
	// comparison depends on it: ansible must check the lab's host keys
	// exactly as pgrunbook does.
	cfg := fmt.Sprintf(`# ansible.cfg of a private control node for pgrunbook lab %s.
[defaults]
home = %s
local_tmp = %s
inventory = %s
host_key_checking = True

[ssh_connection]
control_path_dir = %s
`, l.Name, a.home(), a.localTmp(), a.Inventory, a.ControlPathDir)
	if err := writeFileAtomic(a.Config, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *AnsibleControl) home() string     { return filepath.Join(a.Dir, "home") }
func (a *AnsibleControl) localTmp() string { return filepath.Join(a.Dir, "tmp") }

// Command prepares an ansible tool (ansible-playbook, ansible, ...) to run
// with this control node: ANSIBLE_CONFIG names Config, HOME is the
// control node's own (so that nothing of ansible lands in the real one),
// every ANSIBLE_* variable of this process's environment is dropped, and
// env (KEY=VALUE, e.g. ANSIBLE_PIPELINING=True) is added.
func (a *AnsibleControl) Command(ctx context.Context, tool string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, tool, args...)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ANSIBLE_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "HOME="+a.home(), "ANSIBLE_CONFIG="+a.Config)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// StopMasters asks every ssh connection-sharing master under
// ControlPathDir to exit (ssh -O exit), so that the next run of ansible
// opens its connections afresh and no master outlives the lab.
func (a *AnsibleControl) StopMasters(ctx context.Context) error {
	entries, err := os.ReadDir(a.ControlPathDir)
	if err != nil {
		return fmt.Errorf("stop ssh masters in %s: %w", a.ControlPathDir, err)
	}
	var errs []error
	for _, e := range entries {
		sock := filepath.Join(a.ControlPathDir, e.Name())
		if e.Type()&os.ModeSocket == 0 {
			continue
		}
		// The destination is required by ssh's syntax but unused: the
		// control socket alone names the master.
		out, err := exec.CommandContext(ctx, "ssh", "-F", "/dev/null", "-o", "ControlPath="+sock, "-O", "exit", "lab").CombinedOutput()
		if err != nil {
			errs = append(errs, fmt.Errorf("stop ssh master %s: %w: %s", sock, err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}

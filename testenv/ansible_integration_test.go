package testenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ansibleCheckPlaybook logs in to every database host, runs a module
// through Python (command), transfers a file (copy) and runs a raw command,
// so that every path ansible takes to a host is exercised.
const ansibleCheckPlaybook = `- hosts: db
  gather_facts: false
  tasks:
    - name: who
      ansible.builtin.command: id -un
      register: who
      changed_when: false
    - name: logged in as the lab user
      ansible.builtin.assert:
        that: who.stdout == 'pgrb'
    - name: marker
      ansible.builtin.copy:
        content: "{{ inventory_hostname }}"
        dest: "{{ ansible_remote_tmp | dirname }}/ansible-marker"
        mode: "0644"
    - name: raw
      ansible.builtin.raw: "true"
      changed_when: false
`

// TestAnsibleOnTheLab runs ansible-playbook through the lab's bastion with
// the private control node: every host is reached as the lab user, files
// land in each host's own remote_dir, nothing is written to the real home
// nor the login user's home, and a host whose key changed is refused.
func TestAnsibleOnTheLab(t *testing.T) {
	tool, err := exec.LookPath("ansible-playbook")
	if err != nil {
		t.Skip("ansible-playbook not found: Debian's ansible-core is not installed (apt-get install -y --no-install-recommends ansible-core); skipping")
	}
	lab := ForTest(t, Spec{Hosts: 2, Bastion: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	realHome, _ := os.UserHomeDir()
	hadAnsibleHome := exists(filepath.Join(realHome, ".ansible"))
	hadLoginAnsible := exists(filepath.Join(LoginHome, ".ansible"))

	a, err := lab.NewAnsibleControl(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.StopMasters(context.Background()); err != nil {
			t.Errorf("stop ssh masters: %v", err)
		}
	})
	playbook := filepath.Join(t.TempDir(), "check.yml")
	if err := os.WriteFile(playbook, []byte(ansibleCheckPlaybook), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := a.Command(ctx, tool, nil, playbook).CombinedOutput()
	if err != nil {
		t.Fatalf("ansible-playbook: %v\n%s", err, out)
	}
	for _, h := range lab.Hosts {
		re := regexp.MustCompile(`(?m)^` + h.Name + `\s+: ok=4\s+changed=1\s+unreachable=0\s+failed=0\s`)
		if !re.Match(out) {
			t.Errorf("recap of %s is not ok=4 changed=1:\n%s", h.Name, out)
		}
		marker := filepath.Join(h.Dirs.RemoteDir, "ansible-marker")
		b, err := os.ReadFile(marker)
		if err != nil || string(b) != h.Name {
			t.Errorf("%s: %q, %v; want %q", marker, b, err, h.Name)
		}
		if fi, err := os.Stat(marker); err == nil && fi.Sys().(*syscall.Stat_t).Uid == 0 {
			t.Errorf("%s is owned by root, want the login user", marker)
		}
		if !exists(filepath.Join(h.Dirs.RemoteDir, AnsibleRemoteTmp)) {
			t.Errorf("%s: ansible did not use its remote tmp %s", h.Name, AnsibleRemoteTmp)
		}
	}
	if !hadAnsibleHome && exists(filepath.Join(realHome, ".ansible")) {
		t.Errorf("ansible wrote %s", filepath.Join(realHome, ".ansible"))
	}
	if !hadLoginAnsible && exists(filepath.Join(LoginHome, ".ansible")) {
		t.Errorf("ansible wrote %s", filepath.Join(LoginHome, ".ansible"))
	}
	if err := a.StopMasters(ctx); err != nil {
		t.Errorf("stop ssh masters: %v", err)
	}

	// Host keys are checked against the lab's known_hosts.
	if err := lab.ReplaceHostKey(ctx, "pg2"); err != nil {
		t.Fatal(err)
	}
	out, err = a.Command(ctx, tool, nil, playbook).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("ansible-playbook with pg2's key replaced: %v, want exit 4 (unreachable)\n%s", err, out)
	}
	if !strings.Contains(string(out), "REMOTE HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("ansible's output does not say pg2's host key changed:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^pg2\s+: ok=0\s+changed=0\s+unreachable=1\s`).Match(out) {
		t.Errorf("pg2 is not unreachable in the recap:\n%s", out)
	}
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// The Vagrant lab lives at the repository root (Vagrantfile) and in
// testenv/vagrant; tests run in testenv/.
const (
	vagrantfile      = "../Vagrantfile"
	vagrantInventory = "vagrant/inventory.yml"
)

// vagrantHosts are the VMs and their addresses: those of the first
// network-namespace lab, so that playbooks and inventories look the same.
var vagrantHosts = map[string]string{
	"pg1": "10.77.0.11",
	"pg2": "10.77.0.12",
	"pg3": "10.77.0.13",
}

// vagrantValidate runs `vagrant validate` in dir. --ignore-provider,
// because no provider (VirtualBox, libvirt) is installed where tests run;
// VAGRANT_HOME and VAGRANT_DOTFILE_PATH keep Vagrant's state out of the
// checkout and out of root's home.
func vagrantValidate(ctx context.Context, t *testing.T, vagrant, dir string) (string, error) {
	t.Helper()
	state := t.TempDir()
	cmd := exec.CommandContext(ctx, vagrant, "validate", "--ignore-provider")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"VAGRANT_CHECKPOINT_DISABLE=1",
		"VAGRANT_HOME="+filepath.Join(state, "home"),
		"VAGRANT_DOTFILE_PATH="+filepath.Join(state, "dot"),
		"VAGRANT_CWD="+dir,
	)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func lookVagrant(t *testing.T) string {
	t.Helper()
	vagrant, err := exec.LookPath("vagrant")
	if err != nil {
		t.Skip("vagrant is not installed (make deps installs it); skipping the Vagrantfile check")
	}
	return vagrant
}

func TestVagrantfileValidates(t *testing.T) {
	t.Parallel() // Vagrant takes seconds to start
	vagrant := lookVagrant(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := vagrantValidate(ctx, t, vagrant, root)
	if err != nil {
		t.Fatalf("vagrant validate %s: %v\n%s", root, err, out)
	}
	if !strings.Contains(out, "validated successfully") {
		t.Fatalf("vagrant validate %s: no success message:\n%s", root, out)
	}
	for name := range vagrantHosts {
		if !strings.Contains(out, "==> "+name+":") {
			t.Errorf("vagrant validate did not look at machine %s:\n%s", name, out)
		}
	}
}

// TestVagrantValidateCatchesMissingScript makes sure the check above means
// something: the same Vagrantfile without testenv/vagrant beside it must
// fail on the provisioning script it cannot find.
func TestVagrantValidateCatchesMissingScript(t *testing.T) {
	t.Parallel()
	vagrant := lookVagrant(t)
	src, err := os.ReadFile(vagrantfile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Vagrantfile"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := vagrantValidate(ctx, t, vagrant, dir)
	if err == nil {
		t.Fatalf("vagrant validate passed without testenv/vagrant/provision.sh:\n%s", out)
	}
	if !strings.Contains(out, "provision.sh") {
		t.Fatalf("vagrant validate failed, but not on the missing provision.sh:\n%s", out)
	}
}

func TestVagrantInventory(t *testing.T) {
	inv, err := runbook.LoadInventory(vagrantInventory)
	if err != nil {
		t.Fatalf("load %s: %v", vagrantInventory, err)
	}
	db, err := inv.Match(DBGroup)
	if err != nil {
		t.Fatalf("match group %s: %v", DBGroup, err)
	}
	var names []string
	for _, h := range db {
		names = append(names, h.Name)
	}
	if want := []string{"pg1", "pg2", "pg3"}; !slices.Equal(names, want) {
		t.Fatalf("group %s = %v, want %v", DBGroup, names, want)
	}
	for group, want := range map[string][]string{OldPrimaryGroup: {"pg1"}, PrimariesGroup: {"pg1"}, StandbysGroup: {"pg2", "pg3"}} {
		hs, err := inv.Match(group)
		if err != nil {
			t.Fatalf("match group %s: %v", group, err)
		}
		var got []string
		for _, h := range hs {
			got = append(got, h.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("group %s = %v, want %v", group, got, want)
		}
	}
	if got := inv.HostVars(inv.Hosts["pg1"], nil, nil)["new_primary"]; got != "pg2" {
		t.Errorf("pg1: new_primary = %v, want pg2", got)
	}
	for _, h := range db {
		vars := inv.HostVars(h, nil, nil)
		for _, c := range []struct {
			name string
			want any
		}{
			{runbook.VarAddress, vagrantHosts[h.Name]},
			{runbook.VarPort, 22},
			{runbook.VarUser, LoginUser},
			{runbook.VarSSHKey, "testenv/vagrant/keys/id_ed25519"},
			{runbook.VarKnownHosts, "testenv/vagrant/keys/known_hosts"},
			{"remote_dir", "/var/lib/pgrunbook/remote"},
			{"pgdata", "/var/lib/postgresql/15/main"},
			{"config_file", "/etc/postgresql/15/main/postgresql.conf"},
			// The lab's PostgreSQL conventions, which drill.yml relies on.
			{"bin_dir", PGBinDir},
			{"pg_port", PGPort},
			{"pg_socket_dir", "/var/run/postgresql"},
			{"cluster", "a"},
		} {
			if got := vars[c.name]; fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("host %s: %s = %v, want %v", h.Name, c.name, got, c.want)
			}
		}
	}
}

// TestVagrantfileMatchesInventory keeps the two descriptions of the VMs
// from drifting apart: the Vagrantfile's HOSTS table must give each VM the
// address the inventory connects to.
func TestVagrantfileMatchesInventory(t *testing.T) {
	src, err := os.ReadFile(vagrantfile)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`"(pg\d+)" => "([0-9.]+)"`).FindAllStringSubmatch(string(src), -1) {
		got[m[1]] = m[2]
	}
	if fmt.Sprint(got) != fmt.Sprint(vagrantHosts) {
		t.Fatalf("Vagrantfile HOSTS = %v, want %v", got, vagrantHosts)
	}
}

// TestVagrantScriptsParse checks the provisioning and key scripts with
// shellcheck when it is installed, and with sh -n always.
func TestVagrantScriptsParse(t *testing.T) {
	shellcheck, _ := exec.LookPath("shellcheck")
	for _, script := range []string{"provision.sh", "keys.sh", "known-hosts.sh"} {
		t.Run(script, func(t *testing.T) {
			path := filepath.Join("vagrant", script)
			if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
				t.Fatalf("sh -n %s: %v\n%s", path, err, out)
			}
			if shellcheck == "" {
				t.Log("shellcheck is not installed; sh -n only")
				return
			}
			if out, err := exec.Command(shellcheck, path).CombinedOutput(); err != nil {
				t.Fatalf("shellcheck %s: %v\n%s", path, err, out)
			}
		})
	}
}

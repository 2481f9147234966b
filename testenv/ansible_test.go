package testenv

import (
	"strings"
	"testing"
)

func TestAnsibleInventory(t *testing.T) {
	tests := []struct {
		name    string
		bastion bool
		slots   []int
		want    string
	}{
		{
			name:  "direct",
			slots: []int{5},
			want: `all:
  hosts:
    pg1:
      ansible_host: 10.77.5.11
      ansible_port: 22
      ansible_remote_tmp: /s/hosts/pg1/remote/ansible-tmp
    pg2:
      ansible_host: 10.77.5.12
      ansible_port: 22
      ansible_remote_tmp: /s/hosts/pg2/remote/ansible-tmp
  children:
    db:
      hosts:
        pg1: {}
        pg2: {}
  vars:
    ansible_ssh_common_args: -F /s/ssh_config
    ansible_ssh_private_key_file: /s/id_ed25519
    ansible_user: pgrb
`,
		},
		{
			name:    "bastion",
			bastion: true,
			slots:   []int{5, 6},
			want: `all:
  hosts:
    bastion:
      ansible_host: 10.77.5.2
      ansible_port: 22
      ansible_remote_tmp: /s/remote/ansible-tmp
    pg1:
      ansible_host: 10.77.6.11
      ansible_port: 22
      ansible_remote_tmp: /s/hosts/pg1/remote/ansible-tmp
      ansible_ssh_common_args: -F /s/ssh_config -o ProxyJump=pgrb@10.77.5.2:22
    pg2:
      ansible_host: 10.77.6.12
      ansible_port: 22
      ansible_remote_tmp: /s/hosts/pg2/remote/ansible-tmp
      ansible_ssh_common_args: -F /s/ssh_config -o ProxyJump=pgrb@10.77.5.2:22
  children:
    bastions:
      hosts:
        bastion: {}
    db:
      hosts:
        pg1: {}
        pg2: {}
  vars:
    ansible_ssh_common_args: -F /s/ssh_config
    ansible_ssh_private_key_file: /s/id_ed25519
    ansible_user: pgrb
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := Spec{Name: "lab", Hosts: 2, Bastion: tc.bastion, StateDir: "/s"}.normalize()
			if err != nil {
				t.Fatal(err)
			}
			b, err := layout(spec, tc.slots).AnsibleInventory()
			if err != nil {
				t.Fatal(err)
			}
			body := string(b)
			if !strings.HasPrefix(body, "# ") {
				t.Errorf("inventory does not start with its comment line:\n%s", body)
			}
			body = body[strings.Index(body, "\n")+1:]
			if body != tc.want {
				t.Errorf("inventory:\n%s\nwant:\n%s", body, tc.want)
			}
		})
	}
}

// A state directory whose path ansible would split into two ssh arguments
// is refused rather than rendered into a broken inventory.
func TestAnsibleInventoryRefusesUnsafePath(t *testing.T) {
	spec, err := Spec{Name: "lab", Hosts: 1, StateDir: "/s p"}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	_, err = layout(spec, []int{5}).AnsibleInventory()
	if err == nil || !strings.Contains(err.Error(), "needs quoting") {
		t.Fatalf("AnsibleInventory with a space in the state dir: %v, want a quoting error", err)
	}
}

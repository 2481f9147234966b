package testenv

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestInventoryYAML(t *testing.T) {
	spec, err := Spec{Name: "lab", Hosts: 2, Bastion: true, StateDir: "/s"}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	l := layout(spec, []int{5, 6})
	b, err := l.inventoryYAML()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(b, &got); err != nil {
		t.Fatalf("inventory does not parse: %v\n%s", err, b)
	}
	want := `all:
  hosts:
    bastion:
      address: 10.77.5.2
      port: 22
      user: pgrb
    pg1:
      address: 10.77.6.11
      port: 22
      user: pgrb
      bastion: bastion
      remote_dir: /s/hosts/pg1/remote
    pg2:
      address: 10.77.6.12
      port: 22
      user: pgrb
      bastion: bastion
      remote_dir: /s/hosts/pg2/remote
  children:
    bastions:
      hosts:
        bastion: {}
    db:
      hosts:
        pg1: {}
        pg2: {}
  vars:
    ssh_key: /s/id_ed25519
    known_hosts: /s/known_hosts
    remote_dir: /s/remote
`
	body := string(b)
	body = body[strings.Index(body, "\n")+1:] // the comment line
	if body != want {
		t.Errorf("inventory:\n%s\nwant:\n%s", body, want)
	}
}

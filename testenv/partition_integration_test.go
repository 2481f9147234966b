package testenv

import (
	"context"
	"strings"
	"testing"
)

func TestLabPartition(t *testing.T) {
	lab := ForTest(t, Spec{Hosts: 3})
	ctx := context.Background()
	// reach says whether from connects to to's sshd.
	reach := func(from, to string) bool {
		out, err := lab.Exec(ctx, from, "bash", "-c", "exec 3<>/dev/tcp/"+lab.Host(to).Address+"/22 && head -c 7 <&3")
		return err == nil && string(out) == "SSH-2.0"
	}
	if !reach("pg1", "pg2") || !reach("pg2", "pg1") {
		t.Fatal("pg1 and pg2 do not reach each other before the partition")
	}
	if err := lab.Partition(ctx, "pg1"); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{"pg1", "pg2"}, {"pg2", "pg1"}, {"pg1", "pg3"}, {"pg3", "pg1"}} {
		if reach(pair[0], pair[1]) {
			t.Errorf("%s reaches %s across the partition", pair[0], pair[1])
		}
	}
	if !reach("pg2", "pg3") {
		t.Error("pg2 no longer reaches pg3")
	}
	// The executor still gets in.
	checkHost(t, lab, "pg1")
	if err := lab.Heal(ctx, "pg1"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Heal(ctx, "pg1"); err != nil {
		t.Errorf("second Heal: %v", err)
	}
	if !reach("pg1", "pg2") || !reach("pg3", "pg1") {
		t.Error("pg1 still cut off after Heal")
	}
	out, _ := lab.Exec(ctx, "pg2", "ip", "route")
	if strings.Contains(string(out), "unreachable") {
		t.Errorf("routes left on pg2 after Heal:\n%s", out)
	}
}

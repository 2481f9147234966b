package testenv

import (
	"testing"
	"time"
)

func TestCPUQuota(t *testing.T) {
	tests := []struct {
		cpus          float64
		quota, period time.Duration
	}{
		{0.2, 2 * time.Millisecond, 10 * time.Millisecond},
		{0.5, 5 * time.Millisecond, 10 * time.Millisecond},
		{1, 10 * time.Millisecond, 10 * time.Millisecond},
		{1.5, 15 * time.Millisecond, 10 * time.Millisecond},
		// Below 1 ms of 10 ms the period grows instead: the kernel's
		// smallest quota is 1 ms.
		{0.1, time.Millisecond, 10 * time.Millisecond},
		{0.05, time.Millisecond, 20 * time.Millisecond},
		{MinHostCPU, time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		quota, period := cpuQuota(tt.cpus)
		if quota != tt.quota || period != tt.period {
			t.Errorf("cpuQuota(%g) = %v per %v, want %v per %v", tt.cpus, quota, period, tt.quota, tt.period)
		}
	}
}

func TestProcCPUCgroup(t *testing.T) {
	v1 := "12:pids:/\n4:cpu,cpuacct:/pgrunbook-lab-t1-pg1\n1:name=systemd:/\n0::/\n"
	v1Own := "2:cpuacct:/\n1:cpu:/pgrunbook-lab-t1-bastion\n"
	v2 := "0::/pgrunbook-lab-t1-pg2\n"
	tests := []struct {
		text string
		v2   bool
		want string
	}{
		{v1, false, "/pgrunbook-lab-t1-pg1"},
		{v1Own, false, "/pgrunbook-lab-t1-bastion"},
		{v2, true, "/pgrunbook-lab-t1-pg2"},
		{v1, true, "/"},
		{"garbage", false, ""},
	}
	for _, tt := range tests {
		if got := procCPUCgroup(tt.text, tt.v2); got != tt.want {
			t.Errorf("procCPUCgroup(%q, v2=%v) = %q, want %q", tt.text, tt.v2, got, tt.want)
		}
	}
}

// Package testenv is the lab: real hosts made of Linux network namespaces on
// this machine, each with its own address, its own OpenSSH sshd and its own
// directories for a PostgreSQL cluster. Integration tests of other packages,
// `make demo` and `pgrunbook lab` use it to run playbooks against something
// that behaves like a fleet.
//
// A lab named NAME is laid out like this:
//
//	root namespace   bridge NAMEb0 = 10.77.K.1/24   (the executor runs here)
//	NAME-pg1         eth0 = 10.77.K.11, sshd on :22
//	NAME-pg2         eth0 = 10.77.K.12, sshd on :22
//	...
//
// With Spec.Bastion the database hosts move behind a bastion namespace:
//
//	root namespace   bridge NAMEb0 = 10.77.K.1/24
//	NAME-bastion     eth0 = 10.77.K.2, sshd on :22; bridge NAMEb1 = 10.77.J.1/24
//	NAME-pg1         eth0 = 10.77.J.11 (on NAMEb1, inside NAME-bastion)
//
// The root namespace has no route to 10.77.J.0/24 and nothing forwards IP
// packets, so the only way to a database host is an SSH hop through the
// bastion, as on a real fleet. Every lab gets its own /24 (two with a
// bastion) out of 10.77.0.0/16, allocated under a lock file in
// /var/lib/pgrunbook/lab/, so labs of tests running in parallel never meet.
//
// Every host logs in the system user pgrb (shell /bin/sh, home
// /var/lib/pgrunbook/home) with a key generated for the lab; pgrb may run
// anything through `sudo -n`, which is how playbooks become postgres or root.
// The state directory holds everything generated for the lab:
//
//	lab.json          the lab's record, read back by Open
//	inventory.yml     the inventory for `pgrunbook run -i`
//	id_ed25519(.pub)  the client key pair
//	known_hosts       every host's key, by address
//	ssh_config        for `ssh -F ssh_config pg1` by hand
//	hosts/NAME/       per host: sshd config, host key, pid file, log, and
//	                  data/, sock/, archive/, remote/ for the cluster
//
// In a test:
//
//	lab := testenv.ForTest(t, testenv.Spec{Hosts: 3})
//	// lab.Inventory, lab.Key, lab.KnownHosts, lab.Hosts[0].Address ...
//
// ForTest skips the test when not run as root, gives the lab a unique name
// and tears it down when the test ends. From the command line:
//
//	pgrunbook lab up --name demo --hosts 3 --bastion
//	pgrunbook lab status --name demo
//	pgrunbook lab down --name demo
//
// Failure tests break hosts on purpose: StopSSHD and StartSSHD take a
// host's sshd (and its open connections) away and back, ReplaceHostKey
// makes a host offer a key known_hosts does not have, Partition and Heal
// cut a database host off from the others while the executor can still
// log in, and Exec runs any command as root inside a host's namespace.
//
// All hosts share this machine's filesystem; each host's directories are
// under its own hosts/NAME/ so that clusters do not collide.
//
// With Spec.Postgres every database host runs PostgreSQL 15 as the OS user
// postgres, inside its own namespace (package pgcluster does the work):
// on port 5432 of its lab address and 127.0.0.1, with its own unix socket
// directory (hosts/NAME/sock) and data directory (hosts/NAME/pg/data,
// server log beside it). The hosts are split into Spec.Clusters clusters
// (a, b, ...; pg1,pg2 -> a and pg3,pg4 -> b for four hosts and two
// clusters): the first host of each is its primary, the others are
// pg_basebackup clones streaming from it over the lab network, so that a
// partition cuts them off. Every cluster has data checksums,
// full_page_writes, wal_keep_size 64MB, and archives into (and restores
// from) one archive shared by its hosts, archive/<cluster>, as real
// clusters share archive storage. The role rewind (LOGIN REPLICATION, the
// four EXECUTE grants a pg_rewind source needs, CONNECT) has a random
// password; pg_hba.conf asks the lab's subnet for it (scram-sha-256), and
// each host's passfile (hosts/NAME/pgpass, named with passfile= in a
// conninfo) holds it. The standbys stream as rewind. Each primary has the
// seed runbook's tables t1, tbl and test, with rows.
//
// The inventory of such a lab follows a convention the playbooks rely on:
// host vars pgdata, pg_socket_dir, archive_dir, cluster, passfile and, on
// each primary, new_primary (the inventory name of the standby that
// playbooks/drill.yml promotes); all.vars bin_dir, pg_port, rewind_user
// and rewind_password (so the inventory is 0600); groups db, primaries,
// standbys and old_primary (the primaries, which the drill demotes).
// Status reports each server's role and whether it is up; Down stops
// every server before it removes the namespaces.
//
//	pgrunbook lab up --name demo --hosts 4 --clusters 2 --postgres --bastion
//	pgrunbook run playbooks/drill.yml -i /var/lib/pgrunbook/lab/demo/inventory.yml
//
// All hosts share this machine's CPUs too, so a busy host slows down the
// others, which separate machines would not. Spec.HostCPU gives every host
// (the bastion too) a CPU budget of its own: a cgroup
// pgrunbook-lab-NAME-HOST (cgroup v1's cpu controller, or cgroup v2) with a
// CFS quota of that many CPUs in a 10 ms period, holding every process of
// the host from its start: its sshd and so everything run over SSH (shells,
// sudo, engines, servers started by steps), its PostgreSQL and whatever
// Exec runs. The executor, in the root namespace, stays outside. Down (and
// an Up that fails, or replaces a crashed lab) removes the cgroups;
// CheckHostCPU says whether this machine can make them; CPUThrottled says
// how long a host's budget held it back.
//
//	lab := testenv.ForTest(t, testenv.Spec{Hosts: 2, Bastion: true, Postgres: true, HostCPU: 0.2})
//
// Up adds one route to the root namespace and leaves it there:
// 10.77.0.0/16 unreachable, below every lab's /24, so that a packet for a
// lab address never follows the default route off this machine.
package testenv

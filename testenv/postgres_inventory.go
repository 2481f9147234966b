package testenv

// addPGInventory adds the PostgreSQL conventions to the inventory, names
// that playbooks (drill.yml, rejoin.yml) and the Vagrant inventory share:
//
//	host vars   pgdata, pg_socket_dir, archive_dir, cluster, passfile, and
//	            new_primary (the inventory name of the standby the drill
//	            promotes) on each cluster's primary
//	all.vars    bin_dir, pg_port, rewind_user, rewind_password
//	groups      primaries, standbys, old_primary (the primaries, which the
//	            drill demotes); db holds them all
//
// rewind_password is in plain text for now; the inventory file is 0600.
func (l *Lab) addPGInventory(inv *inventoryFile) {
	inv.All.Vars.inventoryPGVars = inventoryPGVars{
		BinDir: PGBinDir, PGPort: PGPort, RewindUser: RewindRole, RewindPassword: l.rewindPassword,
	}
	groups := map[string]inventoryGroup{}
	for _, g := range []string{PrimariesGroup, StandbysGroup, OldPrimaryGroup} {
		groups[g] = inventoryGroup{Hosts: map[string]struct{}{}}
		inv.All.Children[g] = groups[g]
	}
	for _, c := range l.Clusters {
		groups[PrimariesGroup].Hosts[c.Primary] = struct{}{}
		groups[OldPrimaryGroup].Hosts[c.Primary] = struct{}{}
		for _, s := range c.Standbys {
			groups[StandbysGroup].Hosts[s] = struct{}{}
		}
	}
	for _, h := range l.Hosts {
		ih := inv.All.Hosts[h.Name]
		ih.inventoryPGHost = inventoryPGHost{
			Cluster:     h.Cluster,
			PGData:      h.Dirs.DataDir,
			PGSocketDir: h.Dirs.SocketDir,
			ArchiveDir:  h.Dirs.ArchiveDir,
			PassFile:    h.Dirs.PassFile,
		}
		if c := l.Cluster(h.Cluster); c != nil && c.Primary == h.Name {
			ih.NewPrimary = c.NewPrimary()
		}
		inv.All.Hosts[h.Name] = ih
	}
}

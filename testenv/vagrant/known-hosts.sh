#!/bin/sh
# Writes testenv/vagrant/keys/known_hosts for the inventory after
# `vagrant up`. Each host key is read inside its VM through `vagrant ssh`,
# not scanned off the network, so what pgrunbook will trust is what the VM
# really has. Run it from the repository root (where the Vagrantfile is).
set -eu

out=$(dirname "$0")/keys/known_hosts
tmp=$out.tmp
: >"$tmp"
for h in pg1:10.77.0.11 pg2:10.77.0.12 pg3:10.77.0.13; do
	name=${h%%:*}
	addr=${h#*:}
	key=$(vagrant ssh "$name" -c 'cat /etc/ssh/ssh_host_ed25519_key.pub' -- -q | tr -d '\r')
	type=${key%% *}
	rest=${key#* }
	blob=${rest%% *}
	if [ "$type" != ssh-ed25519 ] || [ -z "$blob" ] || [ "$blob" = "$key" ]; then
		echo "known-hosts.sh: no ed25519 host key from $name" >&2
		rm -f "$tmp"
		exit 1
	fi
	echo "$addr $type $blob" >>"$tmp"
done
mv "$tmp" "$out"
echo "known-hosts.sh: wrote $out"

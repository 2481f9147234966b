#!/bin/sh
# Makes the secrets of pgrunbook's Vagrant lab in testenv/vagrant/keys/,
# keeping any that exist (run it again at will):
#
#   id_ed25519, id_ed25519.pub   the key pgrunbook logs in with as pgrb
#   rewind.password              the password of the rewind role
#
# The VMs get the public key and the password through the synced folder;
# the private key stays on this machine (the Vagrantfile excludes it from
# the sync, .gitignore from git).
set -eu

keys=$(dirname "$0")/keys
mkdir -p "$keys"
if [ ! -f "$keys/id_ed25519" ]; then
	ssh-keygen -q -t ed25519 -N '' -C pgrunbook-vagrant -f "$keys/id_ed25519"
	echo "keys.sh: wrote $keys/id_ed25519(.pub)"
fi
if [ ! -s "$keys/rewind.password" ]; then
	# Letters and digits only: provision.sh puts it in SQL and .pgpass.
	(
		umask 077
		LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24 >"$keys/rewind.password"
	)
	echo "keys.sh: wrote $keys/rewind.password"
fi

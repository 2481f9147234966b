#!/bin/sh
# Provisions one VM of pgrunbook's Vagrant lab (see the README, "Rehearsing on VMs (Vagrant)").
#
#   provision.sh primary                 pg1: the primary, owner of the rewind role
#   provision.sh standby PRIMARY_ADDR    pg2, pg3: streaming standbys of PRIMARY_ADDR
#
# Every step looks first and changes only what differs, so `vagrant provision`
# may run it again at any time. A standby is cloned once: after a drill the
# hosts have swapped roles, and cloning again would throw the drill away.
set -eu
# postgres cannot enter root's home, and psql says so on every call.
cd /

role=${1:?usage: provision.sh primary | standby PRIMARY_ADDR}
primary=${2:-}
# The synced folder (testenv/vagrant on the host). PGRB_SHARE is for trying
# the script outside a VM.
share=${PGRB_SHARE:-/pgrunbook}
subnet=10.77.0.0/24

login=pgrb
login_home=/var/lib/pgrunbook/home
remote_dir=/var/lib/pgrunbook/remote
marker=/var/lib/pgrunbook/standby-cloned

pgver=15
pgdata=/var/lib/postgresql/$pgver/main
pgetc=/etc/postgresql/$pgver/main
pgbin=/usr/lib/postgresql/$pgver/bin
arch=/var/lib/postgresql/arch

say() { echo "provision: $*"; }
die() { echo "provision: $*" >&2; exit 1; }

# as_postgres runs a command as the database OS user, never as root.
as_postgres() { runuser -u postgres -- "$@"; }

# install_if_changed installs file $1 (mode $2, owner $3) from stdin and
# reports through its status whether the file changed.
install_if_changed() {
	tmp=$(mktemp)
	cat >"$tmp"
	if [ -f "$1" ] && cmp -s "$tmp" "$1"; then
		rm -f "$tmp"
		return 1
	fi
	install -m "$2" -o "$3" -g "$3" "$tmp" "$1"
	rm -f "$tmp"
	say "wrote $1"
}

packages() {
	missing=""
	for p in postgresql-$pgver openssh-server sudo; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	say "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086 # one word per package
	apt-get install -y -qq --no-install-recommends $missing
}

# login_user makes pgrb, the user pgrunbook logs in as: shell /bin/sh, the
# key from the synced folder, and sudo -n to postgres and root.
login_user() {
	key=$share/keys/id_ed25519.pub
	[ -s "$key" ] || die "missing $key: run testenv/vagrant/keys.sh on the host, then vagrant provision"
	if ! id "$login" >/dev/null 2>&1; then
		useradd --system --shell /bin/sh --home-dir "$login_home" --user-group "$login"
		# useradd locks the password with "!", which sshd reads as a
		# locked account; "*" is no password and no lock.
		usermod -p '*' "$login"
		say "created user $login"
	fi
	install -d -m 755 -o "$login" -g "$login" "$login_home"
	install -d -m 700 -o "$login" -g "$login" "$login_home/.ssh"
	install_if_changed "$login_home/.ssh/authorized_keys" 600 "$login" <"$key" || true
	# Uploads of the pgrunbook binary (the inventory's remote_dir).
	install -d -m 1777 -o "$login" -g "$login" "$remote_dir"

	rule="$login ALL=(ALL) NOPASSWD: ALL"
	if ! grep -qxF "$rule" /etc/sudoers.d/pgrunbook 2>/dev/null; then
		# sudo ignores names with a dot, so the check runs on a file sudo
		# never reads half-written.
		printf '# pgrunbook lab: the login user becomes postgres and root with sudo -n.\n%s\n' "$rule" >/etc/sudoers.d/pgrunbook.tmp
		chmod 440 /etc/sudoers.d/pgrunbook.tmp
		visudo -cqf /etc/sudoers.d/pgrunbook.tmp
		mv /etc/sudoers.d/pgrunbook.tmp /etc/sudoers.d/pgrunbook
		say "wrote /etc/sudoers.d/pgrunbook"
	fi
}

# password prints the rewind role's password, refusing anything but letters
# and digits so that it can sit in SQL and .pgpass without quoting.
password() {
	f=$share/keys/rewind.password
	[ -s "$f" ] || die "missing $f: run testenv/vagrant/keys.sh on the host, then vagrant provision"
	pw=$(cat "$f")
	case $pw in
	*[!A-Za-z0-9]*) die "$f must hold letters and digits only" ;;
	esac
	printf '%s' "$pw"
}

# postgres_config sets what a rewind and a drill need, in Debian's conf.d
# and pg_hba.conf, and restarts or reloads only when something changed.
postgres_config() {
	install -d -m 700 -o postgres -g postgres "$arch"
	# Every node can be the source of a rewind or a standby's upstream
	# after a failover, so every node's postgres user knows the password.
	pw=$(password)
	printf '*:5432:*:rewind:%s\n' "$pw" |
		install_if_changed /var/lib/postgresql/.pgpass 600 postgres || true

	restart=no
	install_if_changed "$pgetc/conf.d/pgrunbook.conf" 644 postgres <<-EOF && restart=yes
		# pgrunbook lab (testenv/vagrant/provision.sh)
		listen_addresses = '*'
		wal_level = replica
		wal_log_hints = on
		archive_mode = on
		archive_command = 'test ! -f $arch/%f && cp %p $arch/%f'
		max_wal_senders = 10
		hot_standby = on
	EOF

	reload=no
	hba=$pgetc/pg_hba.conf
	for line in "host replication rewind $subnet scram-sha-256" "host postgres rewind $subnet scram-sha-256"; do
		if ! grep -qxF "$line" "$hba"; then
			echo "$line" >>"$hba"
			reload=yes
			say "added to $hba: $line"
		fi
	done

	if [ "$restart" = yes ]; then
		pg_ctlcluster "$pgver" main restart
	elif [ "$reload" = yes ]; then
		pg_ctlcluster "$pgver" main reload
	fi
}

# primary_role creates the rewind role with the four grants a
# non-superuser pg_rewind source needs, and keeps its password current.
primary_role() {
	pw=$(password)
	# The SQL goes through stdin, so the password is in no argv.
	as_postgres psql -X -q -v ON_ERROR_STOP=1 -d postgres <<-EOF
		SELECT 'CREATE ROLE rewind' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rewind') \gexec
		ALTER ROLE rewind WITH LOGIN REPLICATION PASSWORD '$pw';
		GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO rewind;
		GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO rewind;
		GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO rewind;
		GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO rewind;
	EOF
	say "role rewind ready"
}

# standby_clone replaces the empty cluster Debian made with a base backup of
# the primary, once: -R writes standby.signal and primary_conninfo.
standby_clone() {
	[ -n "$primary" ] || die "standby needs the primary's address"
	if [ -f "$marker" ]; then
		say "standby already cloned ($marker); leaving the cluster alone"
		return 0
	fi
	say "waiting for the primary $primary to accept the rewind role"
	n=0
	until as_postgres psql -X -q -At -d "host=$primary port=5432 user=rewind dbname=postgres connect_timeout=5" -c 'SELECT 1' >/dev/null 2>&1; do
		n=$((n + 1))
		[ "$n" -lt 120 ] || die "primary $primary not ready after 10 minutes"
		sleep 5
	done
	pg_ctlcluster "$pgver" main stop || true
	find "$pgdata" -mindepth 1 -delete
	as_postgres "$pgbin/pg_basebackup" -h "$primary" -p 5432 -U rewind -D "$pgdata" -R -X stream -c fast
	pg_ctlcluster "$pgver" main start
	touch "$marker"
	say "standby cloned from $primary"
}

packages
login_user
postgres_config
case $role in
primary) primary_role ;;
standby) standby_clone ;;
*) die "unknown role $role (want primary or standby)" ;;
esac
say "done ($role)"

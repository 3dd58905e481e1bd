#!/usr/bin/env bash
# Prepares a local PostgreSQL for hoard's change feed (stores/postgres/changefeed)
# and the demo's scenario 7: the feed reads the logical replication stream, so
#
#   - wal_level must be logical: set with ALTER SYSTEM, then a restart of the
#     cluster, only when it is not logical yet;
#   - pg_hba.conf must let loopback replication connections in: a line
#     `host replication all 127.0.0.1/32 trust` is put first, once;
#   - a slot whose consumer is away retains WAL: max_slot_wal_keep_size is
#     bounded (1GB) when it is unbounded.
#
# Idempotent: a server already set up is left alone (no restart, no reload).
# Run it as root or as a user with sudo (it edits pg_hba.conf and restarts the
# cluster); the database role needs to be a superuser when something is to
# change (ALTER SYSTEM), and the feed's role needs REPLICATION.
#
# usage: scripts/pg-logical.sh
#
# env: HOARD_PG_PORT (default 5432), HOARD_PG_USER (default postgres),
#      HOARD_PG_DB (default test): the server and role, reached over 127.0.0.1
#      without a password (trust), as on the project's machines.
#
# Then: go -C cmd/hoard run . demo --db 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
set -euo pipefail

readonly PORT="${HOARD_PG_PORT:-5432}"
readonly USER_="${HOARD_PG_USER:-postgres}"
readonly DB="${HOARD_PG_DB:-test}"
export PATH="$PATH:/usr/sbin:/sbin"

log() { printf 'pg-logical: %s\n' "$*"; }
die() {
	printf 'pg-logical: error: %s\n' "$*" >&2
	exit 1
}

# Run a command as root: plain when we are root, through sudo otherwise
# (asking for a password only when run from a terminal).
sudo_args=(-n)
[ -t 0 ] && sudo_args=()
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "${sudo_args[@]}" "$@"
	fi
}

q() { psql -w -X -q -h 127.0.0.1 -p "$PORT" -U "$USER_" -d "$DB" -At "$@" </dev/null; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds.
wait_for() {
	local secs=$1 what=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "$what not ready after ${secs}s"
		sleep 0.5
	done
}

pg_up() { pg_isready -q -h 127.0.0.1 -p "$PORT" -t 2; }

# "VERSION NAME" of the Debian cluster on PORT.
pg_cluster() {
	command -v pg_lsclusters >/dev/null 2>&1 || return 1
	pg_lsclusters -h 2>/dev/null | awk -v port="$PORT" '$3 == port { print $1, $2; exit }'
}

command -v psql >/dev/null 2>&1 || die "psql is not installed"
q -c 'select 1' >/dev/null || die "cannot connect as $USER_ to database $DB on 127.0.0.1:$PORT without a password"

hba="$(q -c 'show hba_file')" || die "cannot ask PostgreSQL for its hba_file"
if ! as_root grep -q '^# hoard-ci: loopback replication' "$hba"; then
	log "allowing loopback replication connections in $hba"
	tmp="$(mktemp)"
	trap 'rm -f "$tmp"' EXIT
	{
		echo '# hoard-ci: loopback replication (added by scripts/pg-logical.sh; the change feed of stores/postgres/changefeed)'
		echo 'host    replication     all             127.0.0.1/32            trust'
		as_root cat "$hba"
	} >"$tmp"
	# Writing into the file keeps its owner and mode.
	as_root tee "$hba" <"$tmp" >/dev/null
	q -c 'select pg_reload_conf()' >/dev/null
fi

if [ "$(q -c 'show max_slot_wal_keep_size')" = "-1" ]; then
	log "bounding the WAL a replication slot retains: max_slot_wal_keep_size = 1GB"
	q -c "alter system set max_slot_wal_keep_size = '1GB'" -c 'select pg_reload_conf()' >/dev/null
fi

if [ "$(q -c 'show wal_level')" != "logical" ]; then
	cluster="$(pg_cluster)" || true
	[ -n "$cluster" ] || die "wal_level is not logical, and no Debian cluster (pg_lsclusters) serves port $PORT: run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL yourself"
	log "wal_level is not logical: setting it and restarting cluster $cluster"
	q -c 'alter system set wal_level = logical' >/dev/null
	# shellcheck disable=SC2086 # "VERSION NAME" splits into two arguments on purpose
	as_root pg_ctlcluster --skip-systemctl-redirect $cluster restart -m fast </dev/null
	wait_for 60 "PostgreSQL on :$PORT after the restart" pg_up
	[ "$(q -c 'show wal_level')" = "logical" ] || die "wal_level is still not logical after the restart"
fi

# A reload is applied by the postmaster asynchronously: poll.
wait_for 15 "a loopback replication connection" \
	psql -w -X -q "host=127.0.0.1 port=$PORT user=$USER_ dbname=$DB replication=database" -c 'IDENTIFY_SYSTEM'
log "wal_level logical, loopback replication: ok"

#!/usr/bin/env bash
# Local Redis Cluster for hoard's cluster tests: 6 nodes (3 masters, 3 replicas)
# on loopback ports BASE..BASE+5, state under one directory that `stop` removes.
#
# usage: scripts/redis-cluster.sh start|stop|status|addrs
#
#   start   start the nodes and create the cluster; does nothing when a healthy
#           cluster already answers, wipes and recreates stale state otherwise
#   stop    shut the nodes down and remove the state directory
#   status  print each node's state; exit 0 only when the cluster is healthy
#   addrs   print 127.0.0.1:P1,...,127.0.0.1:P6 (for HOARD_REDIS_CLUSTER_ADDRS)
#
# env: HOARD_CLUSTER_BASE_PORT (default 7101; the cluster bus uses port+10000)
#      HOARD_CLUSTER_DIR       (default /tmp/hoard-redis-cluster)
#      HOARD_CLUSTER_WAIT_SECS (default 30: how long start waits for cluster_state:ok)
set -euo pipefail

readonly BASE_PORT="${HOARD_CLUSTER_BASE_PORT:-7101}"
readonly CLUSTER_DIR="${HOARD_CLUSTER_DIR:-/tmp/hoard-redis-cluster}"
readonly WAIT_SECS="${HOARD_CLUSTER_WAIT_SECS:-30}"
readonly NODES=6
readonly MASTERS=3
# A file that marks the directory as ours, so that `stop` never rm -rf's a
# directory someone pointed HOARD_CLUSTER_DIR at by mistake.
readonly MARKER=".hoard-redis-cluster"

log() { printf 'redis-cluster: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

case "$BASE_PORT" in
'' | *[!0-9]*) die "HOARD_CLUSTER_BASE_PORT must be a number, got '$BASE_PORT'" ;;
esac
# Node ports and their bus ports (port+10000) must both fit below 65536.
if ((BASE_PORT < 1024 || BASE_PORT + NODES - 1 + 10000 > 65535)); then
	die "HOARD_CLUSTER_BASE_PORT=$BASE_PORT is out of range (1024..$((65535 - 10000 - NODES + 1)))"
fi
case "$WAIT_SECS" in
'' | *[!0-9]*) die "HOARD_CLUSTER_WAIT_SECS must be a number, got '$WAIT_SECS'" ;;
esac

ports() { seq "$BASE_PORT" $((BASE_PORT + NODES - 1)); }

addrs() {
	local p out=""
	for p in $(ports); do out+="${out:+,}127.0.0.1:$p"; done
	printf '%s\n' "$out"
}

# Run a command as root: plain when we are root (CI), through sudo otherwise.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

# A fresh machine may lack Redis: Debian's redis-server package brings
# redis-server and (through redis-tools) redis-cli.
ensure_redis() {
	if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 || die "redis-server/redis-cli missing and no apt-get to install them"
	log "installing redis-server with apt-get"
	as_root apt-get update -q </dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server </dev/null
	if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
		die "redis-server/redis-cli still missing after apt-get install"
	fi
}

# redis-cli against one node; bounded so a wedged node cannot hang us, and with
# the \r of RESP bulk replies stripped so that sed/grep see plain lines.
cli() {
	local port=$1
	shift
	timeout 5 redis-cli -h 127.0.0.1 -p "$port" "$@" </dev/null 2>/dev/null | tr -d '\r'
}

answers() { [ "$(cli "$1" ping)" = "PONG" ]; }

# field PORT SECTION-COMMAND... FIELD: value of "FIELD:value" in an INFO-style reply.
field() {
	local port=$1 name=${*: -1}
	local -a cmd=("${@:2:$#-2}")
	cli "$port" "${cmd[@]}" | sed -n "s/^${name}://p"
}

# A node is healthy when it sees the whole cluster as ok with every slot served
# and all nodes known, and, for a replica, its link to its master is up.
node_healthy() {
	local port=$1 info repl
	info=$(cli "$port" cluster info) || return 1
	grep -qx 'cluster_state:ok' <<<"$info" || return 1
	grep -qx 'cluster_slots_ok:16384' <<<"$info" || return 1
	grep -qx "cluster_known_nodes:$NODES" <<<"$info" || return 1
	grep -qx "cluster_size:$MASTERS" <<<"$info" || return 1
	repl=$(cli "$port" info replication) || return 1
	if grep -qx 'role:slave' <<<"$repl"; then
		grep -qx 'master_link_status:up' <<<"$repl" || return 1
	fi
}

cluster_healthy() {
	local p
	for p in $(ports); do node_healthy "$p" || return 1; done
}

status() {
	local p healthy=0
	for p in $(ports); do
		if answers "$p"; then
			printf '127.0.0.1:%s up   role=%s cluster_state=%s slots_ok=%s known_nodes=%s\n' "$p" \
				"$(field "$p" info replication role)" \
				"$(field "$p" cluster info cluster_state)" \
				"$(field "$p" cluster info cluster_slots_ok)" \
				"$(field "$p" cluster info cluster_known_nodes)"
		else
			printf '127.0.0.1:%s down\n' "$p"
			healthy=1
		fi
	done
	if [ "$healthy" -eq 0 ] && cluster_healthy; then
		echo "cluster: ok ($(addrs))"
		return 0
	fi
	echo "cluster: not healthy"
	return 1
}

# Shut down whichever of our ports runs a cluster-enabled Redis (never a plain
# Redis that happens to use the port), then wait until the ports are free.
stop_nodes() {
	local p i
	for p in $(ports); do
		answers "$p" || continue
		if [ "$(field "$p" info cluster cluster_enabled)" != "1" ]; then
			log "127.0.0.1:$p runs a Redis without cluster mode; not ours, leaving it alone"
			continue
		fi
		# shutdown drops the connection, so redis-cli may report an error: ignore it.
		cli "$p" shutdown nosave >/dev/null || true
		for ((i = 0; i < 50; i++)); do
			answers "$p" || break
			sleep 0.1
		done
		answers "$p" && log "127.0.0.1:$p still answers after shutdown"
	done
	return 0
}

wipe_dir() {
	case "$CLUSTER_DIR" in
	'' | / | /tmp | /tmp/ | "$HOME" | "$HOME/") die "refusing to remove HOARD_CLUSTER_DIR='$CLUSTER_DIR'" ;;
	esac
	[ -e "$CLUSTER_DIR" ] || return 0
	if [ -n "$(ls -A "$CLUSTER_DIR")" ] && [ ! -e "$CLUSTER_DIR/$MARKER" ]; then
		die "$CLUSTER_DIR is not empty and was not made by this script; refusing to remove it"
	fi
	rm -rf -- "$CLUSTER_DIR"
}

start() {
	ensure_redis
	if cluster_healthy; then
		log "cluster already running and healthy: $(addrs)"
		return 0
	fi

	# Anything left from an earlier run (dead nodes, old nodes-P.conf, a half
	# made cluster) would make `--cluster create` refuse: start from scratch.
	if [ -e "$CLUSTER_DIR" ] || answers "$BASE_PORT"; then
		log "removing stale cluster state in $CLUSTER_DIR"
	fi
	stop_nodes
	wipe_dir
	mkdir -p "$CLUSTER_DIR"
	touch "$CLUSTER_DIR/$MARKER"

	local p i
	# Check every port before starting any node, so a clash leaves nothing behind.
	for p in $(ports); do
		if answers "$p"; then
			die "port $p is taken by another Redis; set HOARD_CLUSTER_BASE_PORT to use other ports"
		fi
	done
	for p in $(ports); do
		mkdir -p "$CLUSTER_DIR/$p"
		redis-server --port "$p" --bind 127.0.0.1 \
			--cluster-enabled yes --cluster-config-file "nodes-$p.conf" --cluster-node-timeout 2000 \
			--appendonly no --save "" \
			--daemonize yes --dir "$CLUSTER_DIR/$p" \
			--pidfile "$CLUSTER_DIR/$p/redis.pid" --logfile "$CLUSTER_DIR/$p/redis.log" </dev/null
	done

	# --daemonize returns before the node listens (and even when it fails to
	# bind), so wait for each one to answer.
	for p in $(ports); do
		for ((i = 0; i < 100; i++)); do
			answers "$p" && break
			sleep 0.1
		done
		if ! answers "$p"; then
			tail -n 20 "$CLUSTER_DIR/$p/redis.log" >&2 || true
			die "node 127.0.0.1:$p did not start (log above: $CLUSTER_DIR/$p/redis.log)"
		fi
	done

	local -a nodes
	IFS=, read -r -a nodes <<<"$(addrs)"
	log "creating cluster on ${nodes[*]}"
	if ! redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes \
		</dev/null >"$CLUSTER_DIR/create.log" 2>&1; then
		cat "$CLUSTER_DIR/create.log" >&2
		die "redis-cli --cluster create failed"
	fi

	# Slot assignments and replica links spread by gossip: wait, bounded, until
	# every node agrees the cluster is ok.
	local deadline=$((SECONDS + WAIT_SECS))
	until cluster_healthy; do
		if ((SECONDS >= deadline)); then
			status >&2 || true
			die "cluster not healthy after ${WAIT_SECS}s (logs in $CLUSTER_DIR/*/redis.log)"
		fi
		sleep 0.2
	done
	log "cluster ok: $(addrs)"
}

stop() {
	# Only redis-cli is needed to stop; without it nothing of ours can be running.
	if command -v redis-cli >/dev/null 2>&1; then
		stop_nodes
	fi
	wipe_dir
	log "stopped"
}

main() {
	case "${1:-}" in
	start) start ;;
	stop) stop ;;
	status)
		command -v redis-cli >/dev/null 2>&1 || die "redis-cli not installed (run start)"
		status
		;;
	addrs) addrs ;;
	*)
		echo "usage: $0 start|stop|status|addrs" >&2
		exit 2
		;;
	esac
}

main "$@"

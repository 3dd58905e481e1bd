#!/usr/bin/env bash
# hoard's storage-layer benchmarks (issue 2), whose figures docs/benchmarks.md
# records: the memory backend's Get hit against raw otter, the Redis backend's
# Get hit against a raw go-redis GET of the same bytes, and GetMany of 100 keys
# against 100 Gets on Redis and on Redis Cluster. Each speed target is a ratio
# against a baseline measured in the same run, computed by benchstat.
#
# usage: scripts/bench.sh [memory|redis|all]     (default: all)
#
# env: BENCH_COUNT            samples (rounds) of each benchmark (default 16)
#      BENCH_TIME_MEMORY      -benchtime of the memory benchmarks (default 500ms)
#      BENCH_TIME_REDIS       -benchtime of the Redis benchmarks (default 250ms)
#      BENCH_OUT              where the results go (default bench-results/<UTC time>)
#      HOARD_REDIS_ADDR       the Redis to use; unset: 127.0.0.1:6379 if it
#                             answers, else the Redis benchmarks skip
#      HOARD_REDIS_CLUSTER_ADDRS  the Cluster to use; unset: the local one of
#                             scripts/redis-cluster.sh, started if it is not
#                             running and redis-server is installed (and stopped
#                             again at the end, unless BENCH_KEEP_CLUSTER=1)
#      BENCHSTAT_VERSION      golang.org/x/perf version to install benchstat
#                             from when it is missing
#
# The Redis run also measures two diagnostics that explain the GetMany
# ratios: go-redis alone (BenchmarkGetManyRaw: one pipeline of 100 GETs
# against 100 GETs, no envelope, no codec) and the codec's cost for one value
# (BenchmarkUnmarshal).
#
# Samples are taken in rounds: the test binary is built once, then run
# BENCH_COUNT times with -test.count=1, so every round measures each
# implementation right next to its baseline and a change of machine load
# (CPU frequency, other processes) falls on both columns alike. That is
# BENCH_COUNT samples per benchmark, as -count=BENCH_COUNT gives, without
# -count's back-to-back repeats of one sub-benchmark. With the defaults the
# whole run takes about 2 minutes on 2 cores.
#
# Output: BENCH_OUT/{env.txt,memory.txt,redis.txt,benchstat.txt}; the raw
# files are benchstat's input (`benchstat -col /impl BENCH_OUT/memory.txt`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT="$PWD"

readonly COUNT="${BENCH_COUNT:-16}"
readonly TIME_MEMORY="${BENCH_TIME_MEMORY:-500ms}"
readonly TIME_REDIS="${BENCH_TIME_REDIS:-250ms}"
readonly OUT="${BENCH_OUT:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}"
# The version these figures were made with; benchstat's output format is
# stable across versions, so one already installed is used as it is.
readonly BENCHSTAT_VERSION="${BENCHSTAT_VERSION:-v0.0.0-20260908200009-22c9c6c9d4da}"
readonly WHAT="${1:-all}"

log() { printf 'bench.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
header() { printf '\n==> %s\n' "$*"; }

case "$WHAT" in
memory | redis | all) ;;
*) die "usage: $0 [memory|redis|all]" ;;
esac
case "$COUNT" in
'' | *[!0-9]* | 0) die "BENCH_COUNT must be a positive number, got '$COUNT'" ;;
esac
command -v go >/dev/null 2>&1 || die "go not found in PATH"

# benchstat: on PATH, in GOBIN, or installed there (from /, so that the install
# never touches this module's go.mod).
benchstat_bin() {
	local gobin
	gobin="$(go env GOBIN)"
	if [ -z "$gobin" ]; then
		gobin="$(go env GOPATH)"
		gobin="${gobin%%:*}/bin"
	fi
	if command -v benchstat >/dev/null 2>&1; then
		command -v benchstat
	elif [ -x "$gobin/benchstat" ]; then
		printf '%s\n' "$gobin/benchstat"
	else
		log "installing benchstat (golang.org/x/perf@$BENCHSTAT_VERSION) into $gobin"
		(cd / && GOBIN="$gobin" go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION") >&2
		printf '%s\n' "$gobin/benchstat"
	fi
}

redis_answers() { # HOST:PORT
	command -v redis-cli >/dev/null 2>&1 || return 1
	[ "$(timeout 5 redis-cli -h "${1%:*}" -p "${1##*:}" ping 2>/dev/null </dev/null)" = "PONG" ]
}

redis_version() { # HOST:PORT
	if command -v redis-cli >/dev/null 2>&1; then
		timeout 5 redis-cli -h "${1%:*}" -p "${1##*:}" info server 2>/dev/null </dev/null |
			tr -d '\r' | sed -n 's/^redis_version://p'
	fi
}

started_cluster=0
cleanup() {
	if [ "$started_cluster" -eq 1 ] && [ "${BENCH_KEEP_CLUSTER:-0}" != 1 ]; then
		log "stopping the Redis Cluster this run started"
		bash scripts/redis-cluster.sh stop || true
	fi
}
trap cleanup EXIT

setup_redis() {
	if [ -z "${HOARD_REDIS_ADDR:-}" ]; then
		if redis_answers 127.0.0.1:6379; then
			export HOARD_REDIS_ADDR=127.0.0.1:6379
			log "HOARD_REDIS_ADDR unset: using the Redis that answers at $HOARD_REDIS_ADDR"
		else
			log "HOARD_REDIS_ADDR unset and no Redis at 127.0.0.1:6379: the Redis benchmarks will skip"
		fi
	fi
	if [ -z "${HOARD_REDIS_CLUSTER_ADDRS:-}" ]; then
		if bash scripts/redis-cluster.sh status >/dev/null 2>&1; then
			log "HOARD_REDIS_CLUSTER_ADDRS unset: using the running local cluster"
		elif command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
			log "HOARD_REDIS_CLUSTER_ADDRS unset: starting the local cluster (scripts/redis-cluster.sh start)"
			bash scripts/redis-cluster.sh start
			started_cluster=1
		else
			log "HOARD_REDIS_CLUSTER_ADDRS unset and redis-server not installed: the Cluster benchmarks will skip"
			return 0
		fi
		HOARD_REDIS_CLUSTER_ADDRS="$(bash scripts/redis-cluster.sh addrs)"
		export HOARD_REDIS_CLUSTER_ADDRS
	fi
}

# run_rounds NAME PKG BENCH BENCHTIME: build PKG's test binary once, then run
# its benchmarks matching BENCH in COUNT rounds, appending to OUT/NAME.txt.
run_rounds() {
	local name=$1 pkg=$2 bench=$3 benchtime=$4
	local bin="$OUT_ABS/$name.test" raw="$OUT/$name.txt" round="$OUT/$name.round" i
	header "$name: go test -c -o $bin $pkg"
	go test -c -o "$bin" "$pkg"
	local -a cmd=("$bin" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" -test.count 1)
	{
		printf '  (cd %s &&' "$pkg"
		printf ' %q' "${cmd[@]}"
		printf ')  # %d rounds, appended to %s\n' "$COUNT" "$raw"
	} >>"$OUT/env.txt"
	: >"$raw"
	for ((i = 1; i <= COUNT; i++)); do
		log "$name: round $i/$COUNT"
		# The package's directory is the cwd go test gives its binary.
		if ! (cd "$ROOT/$pkg" && "${cmd[@]}") >"$round" 2>&1; then
			cat "$round" >&2
			die "$name: the benchmark binary failed in round $i"
		fi
		cat "$round" >>"$raw"
		grep -E '^(Benchmark|--- SKIP|    [a-z_]+\.go:)' "$round" || true
	done
	rm -f "$bin" "$round"
}

# ratios FILE NUM DEN: for every benchmark with impl=NUM in FILE, the median
# ns/op of impl=NUM over the median ns/op of impl=DEN (the same ratio as
# benchstat's vs-base column, as a factor), with the median allocs/op of each.
ratios() {
	local file=$1 num=$2 den=$3
	grep -E '^Benchmark' "$file" |
		awk '{ n = $1; sub(/-[0-9]+$/, "", n)
		       for (i = 3; i < NF; i++) { if ($(i+1) == "ns/op") t = $i; if ($(i+1) == "allocs/op") a = $i }
		       print n, t, a }' |
		sort -k1,1 -k2,2g |
		awk -v num="$num" -v den="$den" '
			{ v[$1, ++c[$1]] = $2; al[$1, c[$1]] = $3 }
			function med(n,   k) { k = c[n]; return k % 2 ? v[n, (k+1)/2] : (v[n, k/2] + v[n, k/2+1]) / 2 }
			function amed(n,   k, i, x, s) { k = c[n]; for (i = 1; i <= k; i++) x[i] = al[n, i]
				# allocs are sorted by ns/op, not by value: sort them here
				for (i = 2; i <= k; i++) { s = x[i]; j = i - 1; while (j > 0 && x[j] > s) { x[j+1] = x[j]; j-- } x[j+1] = s }
				return k % 2 ? x[(k+1)/2] : (x[k/2] + x[k/2+1]) / 2 }
			END {
				for (key in c) {
					if (index(key, "impl=" num) == 0) continue
					base = key; sub("impl=" num, "impl=" den, base)
					if (!(base in c)) continue
					row = key; sub("/impl=" num, "", row)
					printf "%-40s %s/%s = %6.2fx   (%s: %.1f ns/op, %s allocs/op; %s: %.1f ns/op, %s allocs/op; n=%d/%d)\n",
						row, num, den, med(key) / med(base), num, med(key), amed(key), den, med(base), amed(base), c[key], c[base]
				}
			}' | sort
}

mkdir -p "$OUT"
case "$OUT" in
/*) OUT_ABS="$OUT" ;;
*) OUT_ABS="$ROOT/$OUT" ;;
esac
readonly OUT_ABS
BENCHSTAT="$(benchstat_bin)"
readonly BENCHSTAT

if [ "$WHAT" != memory ]; then
	setup_redis
fi

{
	echo "# scripts/bench.sh $WHAT, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "commit:    $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (work tree differs)')"
	# Other work in progress changes what is measured: name it.
	git status --short --untracked-files=no 2>/dev/null | sed 's/^/  changed: /'
	echo "go:        $(go version)"
	echo "cpu:       $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "kernel:    $(uname -sr)"
	echo "benchstat: $BENCHSTAT ($(go version -m "$BENCHSTAT" 2>/dev/null | awk '$1 == "mod" { print $3 }'))"
	echo "count:     $COUNT rounds; benchtime memory=$TIME_MEMORY redis=$TIME_REDIS"
	if [ "$WHAT" != memory ]; then
		echo "redis:     ${HOARD_REDIS_ADDR:-unset} (version $(redis_version "${HOARD_REDIS_ADDR:-127.0.0.1:6379}"))"
		echo "cluster:   ${HOARD_REDIS_CLUSTER_ADDRS:-unset} (version $(redis_version "${HOARD_REDIS_CLUSTER_ADDRS%%,*}"))"
	fi
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
	echo "commands:"
} >"$OUT/env.txt"

if [ "$WHAT" != redis ]; then
	run_rounds memory ./backends/memory '^BenchmarkGetHit$' "$TIME_MEMORY"
fi
if [ "$WHAT" != memory ]; then
	run_rounds redis ./backends/hoardredis '^(BenchmarkGetHit|BenchmarkGetMany|BenchmarkGetManyRaw|BenchmarkUnmarshal)$' "$TIME_REDIS"
fi
echo "load at end:   $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)" >>"$OUT/env.txt"

# The baseline goes first in each -col order, so benchstat's vs-base column
# is hoard against it.
{
	header "machine and commands ($OUT/env.txt)"
	cat "$OUT/env.txt"
	if [ "$WHAT" != redis ]; then
		header "memory: $BENCHSTAT -col '/impl@(otter hoard)' $OUT/memory.txt"
		"$BENCHSTAT" -col '/impl@(otter hoard)' "$OUT/memory.txt"
	fi
	if [ "$WHAT" != memory ]; then
		header "redis Get: $BENCHSTAT -filter '.name:GetHit' -col '/impl@(raw hoard)' $OUT/redis.txt"
		"$BENCHSTAT" -filter '.name:GetHit' -col '/impl@(raw hoard)' "$OUT/redis.txt"
		header "redis GetMany: $BENCHSTAT -filter '.name:GetMany' -col '/impl@(singles getmany)' $OUT/redis.txt"
		"$BENCHSTAT" -filter '.name:GetMany' -col '/impl@(singles getmany)' "$OUT/redis.txt"
		header "diagnostics, go-redis alone: $BENCHSTAT -filter '.name:GetManyRaw' -col '/impl@(gets pipeline)' $OUT/redis.txt"
		"$BENCHSTAT" -filter '.name:GetManyRaw' -col '/impl@(gets pipeline)' "$OUT/redis.txt"
		header "diagnostics, decoding one value: $BENCHSTAT -filter '.name:Unmarshal' -col '/codec@(json msgpack)' $OUT/redis.txt"
		"$BENCHSTAT" -filter '.name:Unmarshal' -col '/codec@(json msgpack)' "$OUT/redis.txt"
	fi
	header "ratios of medians (targets: memory hoard/otter <= 1.5x and 0 allocs/op; redis hoard/raw <= 1.15x; singles/getmany >= 15x on redis, >= 5x on cluster)"
	if [ "$WHAT" != redis ]; then ratios "$OUT/memory.txt" hoard otter; fi
	if [ "$WHAT" != memory ]; then
		ratios "$OUT/redis.txt" hoard raw
		ratios "$OUT/redis.txt" singles getmany
		ratios "$OUT/redis.txt" gets pipeline
	fi
} 2>&1 | tee "$OUT/benchstat.txt"
log "raw results and tables in $OUT"

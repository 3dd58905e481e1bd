#!/usr/bin/env bash
# hoard's test command: for every Go module in the repo (each directory with a
# go.mod), run go vet, staticcheck and go test -race. A failure does not stop
# the run: every module is checked, and the run ends with a table of each
# module's results and times, and exits 1 if anything failed. Arguments are
# passed to go test, e.g. `scripts/test.sh -run Foo -v`.
#
# Needs no servers: tests use an in-process miniredis unless HOARD_REDIS_ADDR,
# HOARD_REDIS_CLUSTER_ADDRS or HOARD_POSTGRES_URL point at real ones (.ci/run
# sets them). Installs staticcheck (into GOBIN) when the pinned version is
# missing, and gcc on a Debian machine without a C compiler when run as root.
set -euo pipefail

# Each module is tested alone, from its own go.mod, as CI and a fresh clone
# see it: a developer's go.work would otherwise merge the modules' build
# lists and could hide a requirement missing from one go.mod.
export GOWORK=off

# Ctrl-C stops the whole run, not just the module being tested.
trap 'printf "\ntest.sh: interrupted\n" >&2; exit 130' INT TERM

# The staticcheck release we verified with this repo's Go (1.26); v0.8.x is
# the line built for Go 1.26. Bump it together with the go directive.
readonly STATICCHECK_VERSION="v0.8.2"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT="$PWD"

header() { printf '\n==> %s\n' "$*"; }
die() {
	printf 'test.sh: error: %s\n' "$*" >&2
	exit 1
}

command -v go >/dev/null 2>&1 || die "go not found in PATH (Go 1.26 expected at /usr/local/go/bin)"

# Every module: tracked and untracked-but-not-ignored go.mod files, or a plain
# find outside a git checkout. Modules under testdata/ or vendor/ are fixtures
# or copies, not ours to test.
find_modules() {
	if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$ROOT" ls-files --cached --others --exclude-standard -- 'go.mod' '**/go.mod'
	else
		find . -name go.mod -not -path './.git/*' | sed 's|^\./||'
	fi |
		grep -Ev '(^|/)(testdata|vendor)/' |
		xargs -r -n1 dirname | sort -u
}

# staticcheck at exactly the pinned version: a different one may not support
# this Go release (it then fails on the standard library) or may report other
# findings, so CI and laptops would disagree.
staticcheck_bin() {
	local gobin candidate
	gobin="$(go env GOBIN)"
	if [ -z "$gobin" ]; then
		gobin="$(go env GOPATH)"
		gobin="${gobin%%:*}/bin"
	fi
	for candidate in "$(command -v staticcheck || true)" "$gobin/staticcheck"; do
		if [ -z "$candidate" ] || [ ! -x "$candidate" ]; then continue; fi
		if "$candidate" -version 2>/dev/null | grep -qF "(${STATICCHECK_VERSION#v})"; then
			printf '%s\n' "$candidate"
			return 0
		fi
	done
	header "installing staticcheck $STATICCHECK_VERSION into $gobin" >&2
	# Run outside the repo so the install can never touch go.mod/go.sum.
	(cd / && GOBIN="$gobin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION") >&2
	printf '%s\n' "$gobin/staticcheck"
}

# go test -race needs cgo on Linux, and Go turns cgo off when it finds no C
# compiler. Install gcc on a Debian machine that lacks one, else say why.
ensure_cgo() {
	[ "$(go env CGO_ENABLED)" = "1" ] && return 0
	if [ "$(go env GOOS)" = "linux" ] && ! command -v gcc >/dev/null 2>&1 &&
		[ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		header "installing gcc (go test -race needs cgo)"
		apt-get update -q </dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gcc libc6-dev </dev/null
	fi
	[ "$(go env CGO_ENABLED)" = "1" ] ||
		die "go test -race needs cgo: install a C compiler (gcc) or set CGO_ENABLED=1 with CC pointing at one"
}

# fmt_secs SECONDS: 42s, or 3m07s.
fmt_secs() {
	if [ "$1" -lt 60 ]; then
		printf '%ds' "$1"
	else
		printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
	fi
}

mapfile -t modules < <(find_modules)
[ "${#modules[@]}" -gt 0 ] || die "no go.mod found under $ROOT"

started=$SECONDS
ensure_cgo
staticcheck="$(staticcheck_bin)"
header "$(go version); $("$staticcheck" -version)"

# One row per module for the closing table: module, vet, staticcheck, test,
# time; and the modules that failed something.
rows=()
failed=()

for mod in "${modules[@]}"; do
	# git still lists a tracked go.mod that was deleted in the work tree.
	[ -f "$ROOT/$mod/go.mod" ] || continue
	cd "$ROOT/$mod"
	mod_started=$SECONDS
	vet=- sc=- tst=-
	# go vet and go test fail on "matched no packages", which a module that
	# holds only go.mod (or only nested modules) legitimately does; go list
	# still fails on a broken go.mod, so that is not hidden.
	header "[$mod] go list ./..."
	if ! pkgs="$(go list -e ./...)"; then
		rows+=("$mod|FAIL (go list)|-|-|$(fmt_secs $((SECONDS - mod_started)))")
		failed+=("$mod")
		continue
	fi
	if [ -z "$pkgs" ]; then
		echo "no Go packages in module $mod yet: skipping"
		rows+=("$mod|-|-|-|no packages")
		continue
	fi
	printf '%s\n' "$pkgs"

	header "[$mod] go vet ./..."
	if go vet ./...; then vet=ok; else vet=FAIL; fi

	header "[$mod] staticcheck ./..."
	if "$staticcheck" ./...; then sc=ok; else sc=FAIL; fi

	header "[$mod] go test -race -count=1 ./...${*:+ $*}"
	if go test -race -count=1 ./... "$@"; then tst=ok; else tst=FAIL; fi

	rows+=("$mod|$vet|$sc|$tst|$(fmt_secs $((SECONDS - mod_started)))")
	case "$vet$sc$tst" in *FAIL*) failed+=("$mod") ;; esac
done

header "summary: ${#rows[@]} module(s) in $(fmt_secs $((SECONDS - started)))${*:+ (go test $*)}"
width=6 # "module"
for row in "${rows[@]}"; do
	name="${row%%|*}"
	[ "${#name}" -le "$width" ] || width=${#name}
done
for row in "module|vet|staticcheck|test|time" "${rows[@]}"; do
	IFS='|' read -r name vet sc tst took <<<"$row"
	printf '%-*s  %-14s  %-11s  %-4s  %s\n' "$width" "$name" "$vet" "$sc" "$tst" "$took"
done
if [ "${#failed[@]}" -gt 0 ]; then
	printf '\nFAIL in %d module(s): %s\n' "${#failed[@]}" "${failed[*]}"
	exit 1
fi
printf '\nall checks passed in %d module(s)\n' "${#rows[@]}"

#!/usr/bin/env bash
# hoard's test command: for every Go module in the repo (each directory with a
# go.mod), run go vet, staticcheck and go test -race, stopping at the first
# failure. Arguments are passed to go test, e.g. `scripts/test.sh -run Foo -v`.
#
# Needs no servers: tests use an in-process miniredis unless HOARD_REDIS_ADDR,
# HOARD_REDIS_CLUSTER_ADDRS or HOARD_POSTGRES_URL point at real ones (.ci/run
# sets them).
set -euo pipefail

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

mapfile -t modules < <(find_modules)
[ "${#modules[@]}" -gt 0 ] || die "no go.mod found under $ROOT"

ensure_cgo
staticcheck="$(staticcheck_bin)"
header "$(go version); $("$staticcheck" -version)"

for mod in "${modules[@]}"; do
	# git still lists a tracked go.mod that was deleted in the work tree.
	[ -f "$ROOT/$mod/go.mod" ] || continue
	cd "$ROOT/$mod"
	# go vet and go test fail on "matched no packages", which a module that
	# holds only go.mod (or only nested modules) legitimately does; go list
	# still fails on a broken go.mod, so that is not hidden.
	header "[$mod] go list ./..."
	pkgs="$(go list -e ./...)"
	if [ -z "$pkgs" ]; then
		echo "no Go packages in module $mod yet: skipping"
		continue
	fi
	printf '%s\n' "$pkgs"

	header "[$mod] go vet ./..."
	go vet ./...

	header "[$mod] staticcheck ./..."
	"$staticcheck" ./...

	header "[$mod] go test -race -count=1 ./...${*:+ $*}"
	go test -race -count=1 ./... "$@"
done

header "all checks passed in ${#modules[@]} module(s)"

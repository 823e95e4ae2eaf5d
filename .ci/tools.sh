#!/usr/bin/env bash
# Installs the programs hic's tests run into ./.tools/bin, built from the Go
# module proxy outside hic's go.mod: the distribution registry and the cosign
# CLI. Installs bubblewrap from Debian when bwrap is missing. Idempotent: a
# tool already there at the pinned version is skipped.
#
# Usage: .ci/tools.sh            (from anywhere inside the repository)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"
stamp="$root/.tools/versions"
mkdir -p "$bin" "$stamp"

REGISTRY_MODULE=github.com/distribution/distribution/v3/cmd/registry
REGISTRY_VERSION=v3.1.2
COSIGN_MODULE=github.com/sigstore/cosign/v2/cmd/cosign
COSIGN_VERSION=v2.6.5

log() { printf 'tools.sh: %s\n' "$*" >&2; }

# install NAME MODULE VERSION builds MODULE@VERSION into .tools/bin/NAME
# unless a stamp says that version is already there.
install_go_tool() {
	local name=$1 module=$2 version=$3
	if [[ -x "$bin/$name" && "$(cat "$stamp/$name" 2>/dev/null)" == "$module@$version" ]]; then
		log "$name $version already installed"
		return
	fi
	log "building $name from $module@$version"
	local start=$SECONDS
	# Built as its own module (not through hic's go.mod); no VCS stamping.
	(cd "$root" && GOBIN="$bin" GOFLAGS=-buildvcs=false GOWORK=off go install "$module@$version")
	echo "$module@$version" >"$stamp/$name"
	log "$name $version built in $((SECONDS - start)) s"
}

start=$SECONDS
# The two builds share the module cache; run them side by side.
install_go_tool registry "$REGISTRY_MODULE" "$REGISTRY_VERSION" &
registry_pid=$!
install_go_tool cosign "$COSIGN_MODULE" "$COSIGN_VERSION" &
cosign_pid=$!
status=0
wait "$registry_pid" || status=$?
wait "$cosign_pid" || status=$?
if [[ $status -ne 0 ]]; then
	log "building the test tools failed"
	exit "$status"
fi

if ! command -v bwrap >/dev/null 2>&1; then
	log "installing bubblewrap"
	sudo=""
	if [[ $(id -u) -ne 0 ]]; then sudo=sudo; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq bubblewrap >/dev/null
fi

log "tools ready in $((SECONDS - start)) s: $(ls "$bin" | tr '\n' ' ')"

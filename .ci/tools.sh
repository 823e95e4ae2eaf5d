#!/usr/bin/env bash
# Installs the programs hic's tests run into ./.tools/bin, built from the Go
# module proxy outside hic's go.mod: the distribution registry, the cosign
# CLI, the interop suite's oras, crane and syft, and policy-check (the
# containers/image policy engine, from .ci/policy-check, its own module:
# Debian's skopeo has sigstore signatures disabled). Installs bubblewrap from
# Debian when missing.
# Idempotent: a tool already there at the pinned version is skipped.
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
ORAS_MODULE=oras.land/oras/cmd/oras
ORAS_VERSION=v1.3.6
CRANE_MODULE=github.com/google/go-containerregistry/cmd/crane
CRANE_VERSION=v0.22.1
SYFT_MODULE=github.com/anchore/syft/cmd/syft
SYFT_VERSION=v1.57.1

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

# install_policy_check builds .ci/policy-check unless its sources are
# unchanged since the last build. Its source is main.go.src, copied into a
# build directory under .tools, so that hic's own go commands (go vet on a
# changed directory) never meet a second module.
install_policy_check() {
	local src="$root/.ci/policy-check" work="$root/.tools/src/policy-check" sum
	sum=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go.src" | sha256sum | cut -d' ' -f1)
	if [[ -x "$bin/policy-check" && "$(cat "$stamp/policy-check" 2>/dev/null)" == "$sum" ]]; then
		log "policy-check already built"
		return
	fi
	log "building policy-check (go.podman.io/image/v5)"
	local start=$SECONDS
	rm -rf "$work" && mkdir -p "$work"
	cp "$src/go.mod" "$src/go.sum" "$work/" && cp "$src/main.go.src" "$work/main.go"
	(cd "$work" && GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -tags containers_image_openpgp -o "$bin/policy-check" .)
	echo "$sum" >"$stamp/policy-check"
	log "policy-check built in $((SECONDS - start)) s"
}

start=$SECONDS
# The two builds share the module cache; run them side by side.
install_go_tool registry "$REGISTRY_MODULE" "$REGISTRY_VERSION" &
registry_pid=$!
install_go_tool cosign "$COSIGN_MODULE" "$COSIGN_VERSION" &
cosign_pid=$!
# oras and crane are small; syft is the largest build: one at a time after
# them keeps two cores from thrashing.
(install_go_tool oras "$ORAS_MODULE" "$ORAS_VERSION" &&
	install_go_tool crane "$CRANE_MODULE" "$CRANE_VERSION" &&
	install_policy_check &&
	install_go_tool syft "$SYFT_MODULE" "$SYFT_VERSION") &
interop_pid=$!
status=0
wait "$registry_pid" || status=$?
wait "$cosign_pid" || status=$?
wait "$interop_pid" || status=$?
if [[ $status -ne 0 ]]; then
	log "building the test tools failed"
	exit "$status"
fi

debs=()
command -v bwrap >/dev/null 2>&1 || debs+=(bubblewrap)
# skopeo: the tamper suite's outside reader of OCI layouts (cmd/hic tamper_test.go).
command -v skopeo >/dev/null 2>&1 || debs+=(skopeo)
# Headless Chromium for the site's browser test (cmd/hic site_browser_test.go).
command -v chromium >/dev/null 2>&1 || debs+=(chromium)
# ISA-L's igzip, the fast package inflater the tests and benchmarks build
# hic with (compiler/gunzip, the isal tag).
[[ -f /usr/include/isa-l/igzip_lib.h ]] || debs+=(libisal-dev)
if [[ ${#debs[@]} -gt 0 ]]; then
	log "installing ${debs[*]} from Debian"
	sudo=""
	if [[ $(id -u) -ne 0 ]]; then sudo=sudo; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${debs[@]}" >/dev/null
fi

# axe-core, the accessibility engine the browser test injects into the site.
AXE_VERSION=4.14.1
if [[ "$(cat "$stamp/axe-core" 2>/dev/null)" != "$AXE_VERSION" || ! -f "$root/.tools/node_modules/axe-core/axe.min.js" ]]; then
	log "installing axe-core $AXE_VERSION from npm"
	(cd "$root/.tools" && npm install --no-audit --no-fund --no-save --prefix . "axe-core@$AXE_VERSION" >/dev/null)
	echo "$AXE_VERSION" >"$stamp/axe-core"
fi

log "tools ready in $((SECONDS - start)) s: $(ls "$bin" | tr '\n' ' ')"

#!/usr/bin/env bash
# Catalog-scale benchmarks of hic build (issue 11, BENCHMARKS.md "hic build at
# real package sizes"), each measured in the same run as its peer or floor:
#
#   realistic  40 typical Wolfi specs at hic mirror --scale 1: hic build
#              against the apko CLI on the same compiled configs (alternating,
#              RUNS times each, fresh output and caches each run), and the
#              floor: every unique layer compressed and hashed once
#   bump       the same 40 specs rebuilt after a newer tzdata was added to
#              the mirror: layers compressed vs reused
#   scaling    10, 20, 40 specs of the set and 80 (the set and SET80_MORE,
#              tools on the same runtimes) at scale 1 (cold): CPU against
#              summed and unique layer bytes
#   catalog    the whole catalog at scale 0.001 and 0.1 (signed) and a
#              200-spec sample at 0.1: cold time, CPU, RSS, layout size
#              against the summed image sizes
#   noop       hic build --all with nothing changed; hic vet after editing
#              one image file
#   publish    hic publish of the whole catalog's layout to a local registry,
#              then again (nothing to upload)
#
# Usage: .ci/bench-scale.sh [SECTION...]   (default: all, in the order above)
# env: BENCH_DIR (out/bench-scale), JOBS (2), RUNS (1), BENCH_LAYOUT (a signed
# whole-catalog out/ dir for noop and publish; default: the catalog section's),
# BENCH_PUBLISH_AGAIN=1 (publish: only the second publish, into the registry
# storage an earlier run left).
# Figures go to $BENCH_DIR/results.md; /usr/bin/time -v output and logs stay
# in $BENCH_DIR/time and $BENCH_DIR/logs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(realpath -m "${BENCH_DIR:-$root/out/bench-scale}")"
jobs="${JOBS:-2}"
runs="${RUNS:-1}"
APKO_VERSION=v0.30.34
sections=("$@")
if ((${#sections[@]} == 0)); then sections=(realistic bump scaling catalog noop publish); fi

# The 40-spec realistic set of issue 11 (successors are listed here when the
# catalog renames a spec). Since 2026-12-02 the catalog has no node 22,
# nginx 1.30, postgres 17 or redis, and busybox moved to 1.38: node:22 ->
# python:3.11, nginx:1.30 -> openresty:1.31 (nginx-based), postgres:17 ->
# memcached:1.6, redis:8.4 -> valkey:9.1 (redis's fork), redis:8.6 ->
# httpd:2.4, busybox:1.37 -> busybox:1.38.
SET40=(
	python:3.12-wolfi-runtime python:3.12-wolfi-dev python:3.13-wolfi-runtime python:3.13-wolfi-dev
	python:3.14-wolfi-runtime python:3.14-wolfi-dev python:3.11-wolfi-runtime python:3.11-wolfi-dev
	node:24-wolfi-runtime node:24-wolfi-dev node:26-wolfi-runtime node:26-wolfi-dev
	jre:17-wolfi-runtime jre:17-wolfi-dev jre:21-wolfi-runtime jre:21-wolfi-dev
	jdk:17-wolfi-runtime jdk:17-wolfi-dev jdk:21-wolfi-runtime jdk:21-wolfi-dev
	go:1.26-wolfi-runtime go:1.26-wolfi-dev go:1.27-wolfi-runtime go:1.27-wolfi-dev
	openresty:1.31-wolfi-runtime openresty:1.31-wolfi-dev nginx:1.31-wolfi-runtime nginx:1.31-wolfi-dev
	memcached:1.6-wolfi-runtime memcached:1.6-wolfi-dev postgres:18-wolfi-runtime postgres:18-wolfi-dev
	valkey:9.1-wolfi-runtime valkey:9.1-wolfi-dev httpd:2.4-wolfi-runtime httpd:2.4-wolfi-dev
	busybox:1.38-wolfi-runtime busybox:1.38-wolfi-dev static:0.19-wolfi-runtime static:0.19-wolfi-dev
)
# The 40 specs the scaling section adds to SET40 for its 80 row: tools that
# run on the set's language runtimes (python 3.x, nodejs 24, openjdk 21), so
# their images repeat the runtimes' layers: the summed bytes grow by about
# a runtime per image, the unique bytes only by each tool's own packages.
SET80_MORE=(
	poetry:2-wolfi-runtime poetry:2-wolfi-dev sqlmap:1.10-wolfi-runtime sqlmap:1.10-wolfi-dev
	aws-cli:2-wolfi-runtime aws-cli:2-wolfi-dev tox:4.60-wolfi-runtime tox:4.60-wolfi-dev
	ansible:2.21-wolfi-runtime ansible:2.21-wolfi-dev httpie:3-wolfi-runtime httpie:3-wolfi-dev
	mycli:2.15-wolfi-runtime mycli:2.15-wolfi-dev pnpm:11-wolfi-runtime pnpm:11-wolfi-dev
	yarn:1-wolfi-runtime yarn:1-wolfi-dev yarn:4-wolfi-runtime yarn:4-wolfi-dev
	eslint:10-wolfi-runtime eslint:10-wolfi-dev corepack:0.35-wolfi-runtime corepack:0.35-wolfi-dev
	yaml-language-server:1.24-wolfi-runtime yaml-language-server:1.24-wolfi-dev ant:1.10-wolfi-runtime ant:1.10-wolfi-dev
	gradle:9-wolfi-runtime gradle:9-wolfi-dev maven:3.9-wolfi-runtime maven:3.9-wolfi-dev
	sbt:2-wolfi-runtime sbt:2-wolfi-dev selenium-server:4.47-wolfi-runtime selenium-server:4.47-wolfi-dev
	tomcat:11.0-wolfi-runtime tomcat:11.0-wolfi-dev curl:8-wolfi-runtime curl:8-wolfi-dev
)
SET80=("${SET40[@]}" "${SET80_MORE[@]}")

log() { printf 'bench-scale: %s\n' "$*" >&2; }
command -v jq >/dev/null || { log "jq is required"; exit 1; }
[[ -x /usr/bin/time ]] || { log "GNU time is required (Debian package time)"; exit 1; }
mkdir -p "$work/time" "$work/logs"
results="$work/results.md"

# --- tools -------------------------------------------------------------------
# hic is built as make builds it: with ISA-L's inflater where libisal-dev is
# installed (make bench installs it), else pure Go; the header names which.
hic="$work/hic"
tags=()
if [[ -f /usr/include/isa-l/igzip_lib.h && ${ISAL:-1} != 0 ]]; then tags=(-tags=isal); fi
go build "${tags[@]}" -o "$hic" ./cmd/hic
go build -o "$work/benchmirror" ./compiler/bench/cmd/benchmirror
go build -o "$work/layerfloor" ./compiler/bench/cmd/layerfloor
go build -o "$work/layoutsize" ./compiler/bench/cmd/layoutsize
apko="$root/.tools/bin/apko"
stamp="$root/.tools/versions/apko"
# ensure_apko: the apko CLI hic links, built once (only realistic runs it).
ensure_apko() {
	if [[ ! -x $apko || "$(cat "$stamp" 2>/dev/null)" != "chainguard.dev/apko@$APKO_VERSION" ]]; then
		local src tmp
		src="$(go env GOMODCACHE)/chainguard.dev/apko@$APKO_VERSION"
		[[ -d $src ]] || go mod download "chainguard.dev/apko@$APKO_VERSION"
		tmp="$(mktemp -d)"
		cp -r "$src" "$tmp/apko" && chmod -R u+w "$tmp/apko"
		mkdir -p "$(dirname "$apko")" "$(dirname "$stamp")"
		(cd "$tmp/apko" && GOWORK=off GOFLAGS=-buildvcs=false go build -o "$apko" .)
		echo "chainguard.dev/apko@$APKO_VERSION" >"$stamp"
		rm -rf "$tmp"
	fi
}
today="$(date -u +%F)"

# measure LABEL CMD...: CMD under /usr/bin/time -v; output in logs/LABEL.log.
measure() {
	local label=$1
	shift
	log "$label (load $(cut -d' ' -f1 /proc/loadavg))"
	local rc=0
	/usr/bin/time -v -o "$work/time/$label.txt" "$@" >"$work/logs/$label.log" 2>&1 || rc=$?
	echo "$rc" >"$work/time/$label.rc"
	echo "$(cut -d' ' -f1-3 /proc/loadavg)" >"$work/time/$label.load"
	if ((rc != 0)); then log "$label exited $rc (see $work/logs/$label.log)"; fi
}
secs() { awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }'; }
field() { grep -F "$2" "$work/time/$1.txt" | head -1 | awk -F': ' '{print $2}'; }
wall() { field "$1" "Elapsed (wall clock) time" | secs; }
cpu() { awk -v u="$(field "$1" "User time (seconds)")" -v s="$(field "$1" "System time (seconds)")" 'BEGIN { printf "%.2f", u + s }'; }
rss() { awk -v k="$(field "$1" "Maximum resident set size (kbytes)")" 'BEGIN { printf "%.0f", k / 1024 }'; }
row() { # label what
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$(wall "$1")" "$(cpu "$1")" "$(rss "$1")" "$(cat "$work/time/$1.load")" "$(cat "$work/time/$1.rc")"
}
header() {
	{
		echo
		echo "### $1 — $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, --jobs $jobs, inflate $("$hic" version -o json | jq -r .inflate), load average $(cut -d' ' -f1-3 /proc/loadavg)"
		echo
		echo "| run | what | wall s | CPU s | peak RSS MiB | load avg after (1/5/15 min) | exit |"
		echo "|---|---|---|---|---|---|---|"
	} >>"$results"
}
# layer bytes of a layout (compiler/bench/cmd/layoutsize): summed over every
# platform manifest of the images of hic's report and unique (each digest
# once), and the layout's size; layerbytes OUT prints the summary line,
# layoutkinds OUT the layout's bytes by kind (SBOMs, attestations, ...).
layoutsize_run() { "$work/layoutsize" -layout "$1/oci" -report "$1/report.json" >"$1/layoutsize.txt" 2>&1 || true; }
layerbytes() { layoutsize_run "$1"; head -1 "$1/layoutsize.txt"; }
layoutkinds() { tail -n +2 "$1/layoutsize.txt" | sed 's/^  /  - /'; }
counts() { jq -r '.counts | "\(.built) built, \(.cached) cached, \(.failed) failed"' "$1/report.json" 2>/dev/null || echo "no report"; }
# whole_catalog NAME SCALE: hic mirror --scale SCALE of the whole catalog
# into mirror-NAME, then a signed cold hic build --all into NAME, with its
# table row and layout by kind.
whole_catalog() {
	local name=$1 scale=$2
	measure "mirror-$name" "$hic" mirror --scale "$scale" --out "$work/mirror-$name"
	warm "$work/mirror-$name"
	rm -rf "${work:?}/$name"
	mkdir -p "$work/$name/keys"
	"$hic" keygen --out "$work/$name/keys" >/dev/null
	measure "hic-$name-cold" "$hic" build --all --today "$today" --mirrors "$work/mirror-$name" --jobs "$jobs" --key "$work/$name/keys/hic.key" --out "$work/$name"
	row "hic-$name-cold" "scale $scale; $(counts "$work/$name"); $(layers_line "hic-$name-cold"); $(layerbytes "$work/$name")" >>"$results"
	{ echo; echo "- the whole catalog's layout at scale $scale by kind:"; layoutkinds "$work/$name"; } >>"$results"
}
layers_line() { grep -o 'layers: [0-9]* compressed, [0-9]* reused' "$work/logs/$1.log" | tail -1 || true; }

# apko_configs OUT MIRROR DIR: each compiled spec's apko config with every
# catalog repository replaced by its mirror directory and the keyring by
# the mirror's key files of the same names.
apko_configs() {
	local out=$1 mirror=$2 dir=$3 mirrors keys
	mirrors="$(jq -c --arg root "$mirror" '[.mirrors[] | {url, dir: ($root + "/" + .dir)}]' "$mirror/mirrors.json")"
	keys="$(find "$mirror" -path '*/keys/*.rsa.pub' | jq -R . | jq -sc .)"
	mkdir -p "$dir"
	for f in "$out"/compiled/*.json; do
		[[ $f == *.lock.json ]] && continue
		jq --argjson mirrors "$mirrors" --argjson keys "$keys" '
			.config
			| (.contents.repositories | map(. as $u | ([$mirrors[] | select(.url == $u) | .dir] | first) // $u) | unique) as $dirs
			| .contents.repositories = $dirs
			| .contents.keyring |= ([.[] | (split("/") | last) as $k
				| $keys[] | select(endswith("/keys/" + $k))
				| select(. as $p | any($dirs[]; . as $d | $p | startswith($d + "/")))] | unique)
		' "$f" >"$dir/$(basename "$f" .json).yaml"
	done
}
# apko_run CONFIGDIR WORKDIR: the apko CLI building every config one by one.
apko_run() {
	local cfgs=$1 w=$2 failed=0
	rm -rf "$w" && mkdir -p "$w/out" "$w/sbom"
	for c in "$cfgs"/*.yaml; do
		local f
		f="$(basename "$c" .yaml)"
		mkdir -p "$w/sbom/$f"
		"$apko" build "$c" "bench/$f:latest" "$w/out/$f.tar" --arch x86_64,aarch64 --cache-dir "$w/cache" \
			--sbom-path "$w/sbom/$f" --vcs=false --log-level warn || failed=$((failed + 1))
		rm -f "$w/out/$f.tar" # keep the disk in check; the time is spent
	done
	echo "apko: $failed failed"
	return $((failed > 0))
}
export -f apko_run
export apko

warm() { find "$@" -type f -exec cat {} + >/dev/null; }

mirror40="$work/mirror40"
ensure_mirror40() {
	if [[ ! -f $mirror40/mirrors.json ]]; then
		measure mirror40 "$hic" mirror --scale 1 --out "$mirror40" "${SET40[@]}"
	fi
}

for section in "${sections[@]}"; do
	case $section in
	realistic)
		ensure_apko
		ensure_mirror40
		warm "$mirror40"
		header "realistic: ${#SET40[@]} Wolfi specs at scale 1, hic vs the apko CLI"
		for r in $(seq 1 "$runs"); do
			rm -rf "$work/r40-hic-$r"
			measure "hic-40-run$r" "$hic" build --today "$today" --mirrors "$mirror40" --jobs "$jobs" --unsigned --out "$work/r40-hic-$r" "${SET40[@]}"
			if [[ ! -d $work/apko40-configs ]]; then apko_configs "$work/r40-hic-$r" "$mirror40" "$work/apko40-configs"; fi
			measure "apko-40-run$r" bash -c "apko_run '$work/apko40-configs' '$work/apko40'"
			row "hic-40-run$r" "$(counts "$work/r40-hic-$r"); $(layers_line "hic-40-run$r")" >>"$results"
			row "apko-40-run$r" "$(grep -o 'apko: [0-9]* failed' "$work/logs/apko-40-run$r.log" | tail -1)" >>"$results"
		done
		"$work/layerfloor" -cache "$work/r40-hic-1/cache/layers" >"$work/logs/floor.log" 2>&1 || true
		{
			echo
			echo "- layers of hic's layout: $(layerbytes "$work/r40-hic-1")"
			echo "- $(cat "$work/logs/floor.log")"
			awk -v h="$(cpu hic-40-run1)" -v a="$(cpu apko-40-run1)" -v hw="$(wall hic-40-run1)" -v aw="$(wall apko-40-run1)" \
				-v f="$(grep -o 'CPU [0-9.]* s' "$work/logs/floor.log" | awk '{print $2}')" \
				'BEGIN { printf "- hic/apko: CPU %.2f, wall %.2f; hic CPU / floor CPU: %.2f\n", h / a, hw / aw, (f > 0 ? h / f : 0) }'
		} >>"$results"
		;;
	bump)
		ensure_mirror40
		[[ -d $work/r40-hic-1 ]] || { log "bump needs the realistic section's output"; exit 1; }
		# Both mirrors come from benchmirror (the same generator, the same
		# requests), the second with a newer tzdata: every other package is
		# byte-identical, so only layers holding tzdata (and the apk
		# database of the top layer) may change.
		measure mirror40-base "$work/benchmirror" -compiled "$work/r40-hic-1/compiled" -out "$work/mirror40-base" -scale 1
		# The same signing key, or every package's signature (and size) differs.
		rm -rf "$work/mirror40-bump" && mkdir -p "$work/mirror40-bump"
		cp -r "$work/mirror40-base/signing-keys" "$work/mirror40-bump/"
		measure mirror40-bump "$work/benchmirror" -compiled "$work/r40-hic-1/compiled" -out "$work/mirror40-bump" -scale 1 -bump tzdata=2099.1-r0
		warm "$work/mirror40-base" "$work/mirror40-bump"
		header "bump: the ${#SET40[@]} specs built, then rebuilt after tzdata 2099.1-r0 was added to the mirror"
		rm -rf "$work/bump"
		measure hic-40-base "$hic" build --today "$today" --mirrors "$work/mirror40-base" --jobs "$jobs" --unsigned --out "$work/bump" "${SET40[@]}"
		row hic-40-base "before the bump: $(counts "$work/bump"); $(layers_line hic-40-base)" >>"$results"
		measure hic-40-bump "$hic" build --today "$today" --mirrors "$work/mirror40-bump" --jobs "$jobs" --unsigned --out "$work/bump" "${SET40[@]}"
		row hic-40-bump "after the bump: $(counts "$work/bump"); $(layers_line hic-40-bump)" >>"$results"
		;;
	scaling)
		# One mirror of all 80 specs, so every row builds from the same
		# packages; 10, 20 and 40 are SET40 in list order, 80 adds SET80_MORE.
		mirror80="$work/mirror80"
		if [[ ! -f $mirror80/mirrors.json ]]; then
			measure mirror80 "$hic" mirror --scale 1 --out "$mirror80" "${SET80[@]}"
		fi
		warm "$mirror80"
		header "scaling: 10, 20, 40 specs of SET40 and 80 (SET40 + SET80_MORE) at scale 1, cold"
		for n in 10 20 40 80; do
			rm -rf "$work/s$n"
			measure "hic-scale-$n" "$hic" build --today "$today" --mirrors "$mirror80" --jobs "$jobs" --unsigned --out "$work/s$n" "${SET80[@]:0:$n}"
			row "hic-scale-$n" "$n specs; $(counts "$work/s$n"); $(layers_line "hic-scale-$n"); $(layerbytes "$work/s$n")" >>"$results"
			rm -rf "$work/s$n/oci" "$work/s$n/cache"
		done
		;;
	catalog)
		header "catalog: whole catalog at scale 0.001, 200 specs at 0.1, whole catalog at 0.1 (cold)"
		whole_catalog all 0.001
		"$hic" list --format json | jq -r '[.[].ref] as $r | range(0; 200) | $r[(. * ($r | length) / 200) | floor]' >"$work/refs200.txt"
		mapfile -t refs200 <"$work/refs200.txt"
		measure mirror-200 "$hic" mirror --scale 0.1 --out "$work/mirror-200" "${refs200[@]}"
		warm "$work/mirror-200"
		rm -rf "$work/s200"
		measure hic-200-cold "$hic" build --today "$today" --mirrors "$work/mirror-200" --jobs "$jobs" --unsigned --out "$work/s200" "${refs200[@]}"
		row hic-200-cold "$(counts "$work/s200"); $(layers_line hic-200-cold); $(layerbytes "$work/s200")" >>"$results"
		{ echo; echo "- the 200 specs' layout by kind:"; layoutkinds "$work/s200"; } >>"$results"
		# The whole catalog at scale 0.1, signed: the catalog's own sharing
		# (runtime and dev variants, streams, images on one runtime) at
		# package sizes where layers, not metadata, dominate.
		whole_catalog all01 0.1
		rm -rf "$work/mirror-all01"
		;;
	noop)
		out="${BENCH_LAYOUT:-$work/all}"
		[[ -f $out/report.json ]] || { log "noop needs a whole-catalog build (catalog section or BENCH_LAYOUT)"; exit 1; }
		header "no-op: hic build --all with nothing changed; hic vet after editing one image file"
		m="$work/mirror-all"
		[[ -d $m ]] || m="$(dirname "$out")/mirror"
		[[ -d $m ]] || m="$out/mirror"
		key=()
		if [[ -f $out/keys/hic.key ]]; then key=(--key "$out/keys/hic.key"); else key=(--unsigned); fi
		for i in 1 2 3; do
			measure "hic-noop-$i" "$hic" build --all --today "$today" --mirrors "$m" --jobs "$jobs" "${key[@]}" --out "$out"
			row "hic-noop-$i" "$(counts "$out")" >>"$results"
		done
		cat_copy="$work/catalog-edit"
		rm -rf "$cat_copy" && cp -r catalog "$cat_copy"
		measure hic-vet-first "$hic" -C "$cat_copy" vet --today "$today"
		row hic-vet-first "before the edit" >>"$results"
		f="$(ls "$cat_copy"/nginx/*.cue | head -1)"
		echo "// edited by the benchmark" >>"$f"
		measure hic-vet-edit "$hic" -C "$cat_copy" vet --today "$today"
		row hic-vet-edit "after appending a comment to ${f#"$cat_copy/"}" >>"$results"
		;;
	publish)
		out="${BENCH_LAYOUT:-$work/all}"
		[[ -f $out/oci/index.json ]] || { log "publish needs a whole-catalog layout (catalog section or BENCH_LAYOUT)"; exit 1; }
		reg="$work/registry"
		# BENCH_PUBLISH_AGAIN=1: keep the registry's storage of an earlier
		# run and measure only the publish with nothing to upload.
		again="${BENCH_PUBLISH_AGAIN:-0}"
		if [[ $again != 1 || ! -d $reg/data ]]; then again=0; rm -rf "$reg"; fi
		mkdir -p "$reg/data"
		port=$((20000 + RANDOM % 20000))
		cat >"$reg/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $reg/data
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
EOF
		OTEL_TRACES_EXPORTER=none OTEL_SDK_DISABLED=true "$root/.tools/bin/registry" serve "$reg/config.yml" >"$reg/log" 2>&1 &
		regpid=$!
		trap 'kill $regpid 2>/dev/null || true' EXIT
		for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.2; done
		header "publish: the layout $(jq '.manifests | length' "$out/oci/index.json") index.json entries, $(du -sh "$out/oci" | cut -f1), to a local distribution registry"
		if [[ $again != 1 ]]; then
			measure publish-1 "$hic" publish --layout "$out/oci" "127.0.0.1:$port/cat"
			row publish-1 "$(tail -1 "$work/logs/publish-1.log")" >>"$results"
		fi
		measure publish-2 "$hic" publish --layout "$out/oci" "127.0.0.1:$port/cat"
		row publish-2 "second publish, nothing to upload: $(tail -1 "$work/logs/publish-2.log")" >>"$results"
		kill $regpid 2>/dev/null || true
		;;
	*)
		log "unknown section $section"
		exit 2
		;;
	esac
done
log "results in $results"
cat "$results"

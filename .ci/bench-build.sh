#!/usr/bin/env bash
# Benchmark of hic build against the apko CLI, in the same run, on the same
# machine, from the same generated mirror (see BENCHMARKS.md, "hic build").
#
#   1. builds hic, and the apko CLI from the apko module source hic links
#      (copied out of the module cache; .tools/bin/apko, never committed)
#   2. generates the signed local mirror of the whole catalog (hic mirror)
#   3. hic build of $BENCH_SPECS specs spread over the catalog (fresh --out)
#   4. the apko CLI building the same specs one by one
#      (apko build CONFIG TAG OUT.tar --arch x86_64,aarch64), each config
#      being hic's compiled apko config with the catalog repositories and
#      keys replaced by the mirror's directories and key files
#   5. hic build of the same specs again with nothing changed (incremental)
#   6. hic build --all: cold (fresh --out) and incremental
#
# Every step runs under /usr/bin/time -v; the table at the end (also written
# to $BENCH_DIR/results.md) gives wall time, CPU time (user+sys), peak RSS,
# per-spec wall time and the hic/apko ratio.
#
# Usage: .ci/bench-build.sh      env: BENCH_DIR (default out/bench-build),
#        BENCH_SPECS (100), JOBS (nproc), BENCH_SCALE (hic mirror --scale,
#        0.001), BENCH_SIGN=1 to sign hic's builds
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(realpath -m "${BENCH_DIR:-$root/out/bench-build}")"
n="${BENCH_SPECS:-100}"
jobs="${JOBS:-$(nproc)}"
scale="${BENCH_SCALE:-0.001}"
APKO_VERSION=v0.30.34

log() { printf 'bench-build: %s\n' "$*" >&2; }

if [[ ! -x /usr/bin/time ]]; then
	log "installing GNU time (Debian package time)"
	sudo=""
	if [[ $(id -u) -ne 0 ]]; then sudo=sudo; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq time >/dev/null
fi
command -v jq >/dev/null || { log "jq is required"; exit 1; }

rm -rf "$work"
mkdir -p "$work/time" "$work/logs"
load="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- tools -------------------------------------------------------------------
hic="$work/hic"
log "building hic"
# As make builds it: ISA-L's inflater where libisal-dev is installed.
tags=()
if [[ -f /usr/include/isa-l/igzip_lib.h && ${ISAL:-1} != 0 ]]; then tags=(-tags=isal); fi
go build "${tags[@]}" -o "$hic" ./cmd/hic

apko="$root/.tools/bin/apko"
stamp="$root/.tools/versions/apko"
if [[ -x $apko && "$(cat "$stamp" 2>/dev/null)" == "chainguard.dev/apko@$APKO_VERSION" ]]; then
	log "apko CLI $APKO_VERSION already built"
else
	src="$(go env GOMODCACHE)/chainguard.dev/apko@$APKO_VERSION"
	if [[ ! -d $src ]]; then
		go mod download "chainguard.dev/apko@$APKO_VERSION"
	fi
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	log "building the apko CLI from $src"
	cp -r "$src" "$tmp/apko"
	chmod -R u+w "$tmp/apko"
	mkdir -p "$(dirname "$apko")" "$(dirname "$stamp")"
	(cd "$tmp/apko" && GOWORK=off GOFLAGS=-buildvcs=false go build -o "$apko" .)
	echo "chainguard.dev/apko@$APKO_VERSION" >"$stamp"
fi

# --- inputs ------------------------------------------------------------------
# Timed runs measure the build; vet findings are not the benchmark's business.
today="$(date -u +%F)"
"$hic" list --format json >"$work/specs.json"
total="$(jq length "$work/specs.json")"
if ((total < n)); then n=$total; fi
# n specs spread evenly over the catalog (every total/n-th in list order).
jq -r --argjson n "$n" '[.[].ref] as $r | range(0; $n) | $r[(. * ($r | length) / $n) | floor]' \
	"$work/specs.json" >"$work/refs.txt"
mapfile -t refs <"$work/refs.txt"
log "catalog: $total specs; the $n-spec set is in $work/refs.txt"

sign=(--unsigned)
if [[ ${BENCH_SIGN:-0} == 1 ]]; then
	mkdir -p "$work/keys"
	"$hic" keygen --out "$work/keys" >/dev/null
	sign=(--key "$work/keys/hic.key")
fi

# measure LABEL CMD...: runs CMD under /usr/bin/time -v, output in logs/.
# A non-zero exit is recorded, not fatal (a failing spec must not hide the figures).
measure() {
	local label=$1
	shift
	log "$label"
	local rc=0
	/usr/bin/time -v -o "$work/time/$label.txt" "$@" >"$work/logs/$label.log" 2>&1 || rc=$?
	echo "$rc" >"$work/time/$label.rc"
	if ((rc != 0)); then log "$label exited $rc (see $work/logs/$label.log)"; fi
	# Keep this run's report: the next run on the same --out replaces it.
	local out
	case $label in
	hic-n-*) out=$work/out-n ;;
	hic-all-*) out=$work/out-all ;;
	*) return 0 ;;
	esac
	cp "$out/report.json" "$work/time/$label.report.json" 2>/dev/null || true
}

measure mirror "$hic" mirror --out "$work/mirror" --scale "$scale"
# Both tools read the same mirror: put it in the page cache first, so the
# first timed run (hic's) does not pay for the disk reads the second reuses.
find "$work/mirror" -type f -exec cat {} + >/dev/null

# --- hic ---------------------------------------------------------------------
build=("$hic" build --today "$today" --mirrors "$work/mirror" --jobs "$jobs" "${sign[@]}")
measure hic-n-cold "${build[@]}" --out "$work/out-n" "${refs[@]}"

# --- apko CLI ----------------------------------------------------------------
# Each compiled spec's apko config, pointed at the mirror: every catalog
# repository becomes its mirror directory, and the keyring the key files of
# those directories whose names the catalog's keyring lists (the mirror
# holds one key per distro, as hic build trusts it). A spec without layering
# is built by hic with build.DefaultLayering (origin, budget 10): the config
# says so to the apko CLI, which would make one layer (the compiled config
# is hic's compile.Config, which leaves the default unsaid).
mirrors="$(jq -c --arg root "$work/mirror" '[.mirrors[] | {url, dir: ($root + "/" + .dir)}]' "$work/mirror/mirrors.json")"
keys="$(find "$work/mirror" -path '*/keys/*.rsa.pub' | jq -R . | jq -sc .)"
mkdir -p "$work/apko/configs" "$work/apko/out" "$work/apko/sbom"
for ref in "${refs[@]}"; do
	f="${ref//[:\/]/_}"
	jq --argjson mirrors "$mirrors" --argjson keys "$keys" '
		.config
		| (.contents.repositories | map(. as $u | ([$mirrors[] | select(.url == $u) | .dir] | first) // $u) | unique) as $dirs
		| .contents.repositories = $dirs
		| .layering //= {"strategy": "origin", "budget": 10}
		| .contents.keyring |= ([.[] | (split("/") | last) as $k
			| $keys[] | select(endswith("/keys/" + $k))
			| select(. as $p | any($dirs[]; . as $d | $p | startswith($d + "/")))] | unique)
	' "$work/out-n/compiled/$f.json" >"$work/apko/configs/$f.yaml"
done
cat >"$work/apko/run.sh" <<EOF
#!/usr/bin/env bash
# The apko CLI building the compiled specs one by one, as a user would.
set -u
failed=0
while read -r ref; do
	f="\${ref//[:\/]/_}"
	mkdir -p "$work/apko/sbom/\$f"
	"$apko" build "$work/apko/configs/\$f.yaml" "bench/\$f:latest" "$work/apko/out/\$f.tar" \\
		--arch x86_64,aarch64 --cache-dir "$work/apko/cache" --sbom-path "$work/apko/sbom/\$f" \\
		--vcs=false --log-level warn || { echo "apko failed: \$ref" >&2; failed=\$((failed + 1)); }
done <"$work/refs.txt"
echo "apko: \$failed failed" >&2
exit \$((failed > 0))
EOF
chmod +x "$work/apko/run.sh"
measure apko-n-cold "$work/apko/run.sh"

# --- hic, incremental and whole catalog ----------------------------------------
measure hic-n-incremental "${build[@]}" --out "$work/out-n" "${refs[@]}"
measure hic-all-cold "${build[@]}" --out "$work/out-all" --all
measure hic-all-incremental "${build[@]}" --out "$work/out-all" --all

# --- results -----------------------------------------------------------------
# seconds of an "h:mm:ss" or "m:ss.ss" elapsed time
secs() { awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }'; }
field() { grep -F "$2" "$work/time/$1.txt" | head -1 | awk -F': ' '{print $2}'; }
wall() { field "$1" "Elapsed (wall clock) time" | secs; }
cpu() { awk -v u="$(field "$1" "User time (seconds)")" -v s="$(field "$1" "System time (seconds)")" 'BEGIN { printf "%.2f", u + s }'; }
rss() { awk -v k="$(field "$1" "Maximum resident set size (kbytes)")" 'BEGIN { printf "%.0f", k / 1024 }'; }
counts() { # built/cached/failed from a report, or the apko failures
	case $1 in
	hic-*) jq -r '.counts | "\(.built) built, \(.cached) cached, \(.failed) failed"' "$work/time/$1.report.json" ;;
	apko-*) grep -o 'apko: [0-9]* failed' "$work/logs/$1.log" | tail -1 ;;
	*) echo "-" ;;
	esac
}
pipeline() { # the build itself (report.json durationMs: no catalog load), or -
	if [[ -f $work/time/$1.report.json ]]; then
		jq -r '.durationMs / 1000 | . * 100 | round / 100' "$work/time/$1.report.json"
	else echo "-"; fi
}
row() { # label specs result
	local w c
	w="$(wall "$1")"
	c="$(cpu "$1")"
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$w" "$c" "$(rss "$1")" \
		"$(awk -v w="$w" -v n="$2" 'BEGIN { if (n > 0) printf "%.3f", w / n; else print "-" }')" \
		"$(pipeline "$1")" "$(cat "$work/time/$1.rc")" "$3"
}
{
	echo "hic build benchmark, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), load average before: $load, after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "--jobs $jobs, mirror --scale $scale, $(go version | awk '{print $3}'), apko $APKO_VERSION, ${sign[*]}; catalog: $total specs; $n-spec set: every $((total / n))th spec of hic list"
	echo
	echo "| run | specs | wall s | CPU s (user+sys) | peak RSS MB | wall s/spec | hic pipeline s | exit | result |"
	echo "|---|---|---|---|---|---|---|---|---|"
	row mirror "$total" "mirror of the whole catalog"
	row hic-n-cold "$n" "$(counts hic-n-cold)"
	row apko-n-cold "$n" "$(counts apko-n-cold)"
	row hic-n-incremental "$n" "$(counts hic-n-incremental)"
	row hic-all-cold "$total" "$(counts hic-all-cold)"
	row hic-all-incremental "$total" "$(counts hic-all-incremental)"
	echo
	awk -v h="$(wall hic-n-cold)" -v a="$(wall apko-n-cold)" -v hc="$(cpu hic-n-cold)" -v ac="$(cpu apko-n-cold)" \
		-v ha="$(wall hic-all-cold)" -v t="$total" -v n="$n" \
		'BEGIN { printf "hic/apko per spec: %d specs wall %.2f, CPU %.2f; whole catalog (%d specs) wall per spec / apko wall per spec %.2f\n", n, h / a, hc / ac, t, (ha / t) / (a / n) }'
	awk -v c="$(wall hic-all-cold)" -v i="$(wall hic-all-incremental)" \
		'BEGIN { printf "incremental/cold, whole catalog: %.1f%% of the wall time\n", 100 * i / c }'
} | tee "$work/results.md"

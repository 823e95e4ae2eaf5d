#!/usr/bin/env bash
# Benchmark: hic vet against cue vet (cuelang.org/go/cmd/cue v0.17.1) over the
# same generated catalog of 1,200 specs (150 images x 4 streams x 2 variants,
# one folder per image; compiler/bench). Measured in one run, interleaved,
# with GNU time -v: wall clock and peak RSS. Method and results: BENCHMARKS.md.
#
#   .ci/bench-vet.sh            (RUNS=5 by default)
#
# Targets (issue 2): hic vet <= 2 s wall, <= 500 MiB peak RSS, and no more than
# 2x the wall time of cue vet. Exits 1 when a target is missed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
RUNS=${RUNS:-5}
TODAY=2026-11-27
CUE_VERSION=v0.17.1
bin="$root/.tools/bin"
work="$root/.work/bench-vet"

log() { printf 'bench-vet: %s\n' "$*" >&2; }

if [[ ! -x /usr/bin/time ]]; then
	log "installing GNU time"
	apt-get install -y -qq time >/dev/null
fi
mkdir -p "$bin"
if [[ "$("$bin/cue" version 2>/dev/null | head -1)" != "cue version $CUE_VERSION" ]]; then
	log "installing cue $CUE_VERSION into $bin"
	# Outside hic's module, so its go.mod is not touched.
	(cd /tmp && GOBIN="$bin" GOFLAGS= go install "cuelang.org/go/cmd/cue@$CUE_VERSION")
fi

rm -rf "$work"
mkdir -p "$work"
go build -o "$work/hic" ./cmd/hic
go run ./compiler/bench/cmd/gencatalog -out "$work/catalog" >&2
# cue needs the schema next to the images: the same files hic overlays from
# its embedded copy. Each image folder is a package instance that includes the
# root's files, so `cue vet -c ./...` evaluates the schema with every image,
# derived specs included, as hic does.
cp -r "$work/catalog" "$work/cue-catalog"
cp schema/*.cue "$work/cue-catalog/"

hic_cmd=("$work/hic" vet --today "$TODAY" "$work/catalog")
cue_cmd=("$bin/cue" vet -c ./...)

# Both tools must accept the catalog, and hic must see every spec. The count
# is the summary's first line (the last says which specs have no universe);
# the generated exceptions that waive nothing are warnings, not errors.
summary=$("${hic_cmd[@]}" | grep -m1 '^[0-9]* specs in ' || true)
log "hic: $summary"
[[ $summary == "1200 specs in 150 images, 150 files: no errors,"* ]] || { log "unexpected hic summary"; exit 1; }
(cd "$work/cue-catalog" && "${cue_cmd[@]}") || { log "cue vet rejects the catalog"; exit 1; }
# ... and cue must really evaluate the images' derived specs: give every
# derived spec a field that is not concrete (in a copy of the schema only) and
# expect cue vet -c to report it inside the specs.
bad="$work/cue-broken"
cp -r "$work/cue-catalog" "$bad"
printf '\n#expand: out: probe: int\n' >>"$bad/image.cue"
broken=$(cd "$bad" && "${cue_cmd[@]}" 2>&1) || true
if grep -q 'images."img-149".specs.*probe' <<<"$broken"; then
	log "cue reports errors in derived specs: it evaluates them"
else
	log "cue vet did not report a broken spec: the comparison would be unfair"
	printf '%s\n' "$broken" | head -n 5 >&2
	exit 1
fi

# measure NAME DIR CMD...: one run under GNU time -v; prints "wall_s cpu_s rss_kib".
measure() {
	local name=$1 dir=$2
	shift 2
	(cd "$dir" && /usr/bin/time -v -o "$work/time.$name" "$@" >/dev/null 2>"$work/stderr.$name") || true
	awk -F': ' '
		/Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
		/User time/ { u = $2 } /System time/ { s = $2 }
		/Maximum resident set size/ { m = $2 }
		END { printf "%.2f %.2f %d\n", w, u + s, m }' "$work/time.$name"
}

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs; $RUNS runs each, interleaved"
: >"$work/hic.txt"
: >"$work/cue.txt"
for i in $(seq "$RUNS"); do
	measure hic "$root" "${hic_cmd[@]}" >>"$work/hic.txt"
	measure cue "$work/cue-catalog" "${cue_cmd[@]}" >>"$work/cue.txt"
done
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# stats FILE: median wall, min wall, max wall, median cpu, max rss (MiB).
stats() {
	sort -n -k1 "$1" | awk '{ w[NR] = $1; c[NR] = $2; if ($3 > m) m = $3 }
		END { printf "%.2f %.2f %.2f %.2f %.0f\n", w[int((NR + 1) / 2)], w[1], w[NR], c[int((NR + 1) / 2)], m / 1024 }'
}
read -r hw hmin hmax hc hr < <(stats "$work/hic.txt")
read -r cw cmin cmax cc cr < <(stats "$work/cue.txt")
ratio=$(awk -v a="$hw" -v b="$cw" 'BEGIN { printf "%.2f", a / b }')

cat <<EOF
| tool | command | wall median (min-max) | CPU user+sys (median run) | peak RSS |
|------|---------|----------------------|---------------------------|----------|
| hic vet | \`hic vet --today $TODAY catalog\` | ${hw} s (${hmin}-${hmax}) | ${hc} s | ${hr} MiB |
| cue vet | \`cue vet -c ./...\` | ${cw} s (${cmin}-${cmax}) | ${cc} s | ${cr} MiB |

hic/cue wall ratio: ${ratio}x ($RUNS runs each, 1,200 specs, $(nproc) CPUs)
EOF

status=0
check() { # check LABEL OK
	if [[ $2 == 1 ]]; then echo "target met:    $1"; else echo "target missed: $1"; status=1; fi
}
check "hic vet wall ${hw} s <= 2 s" "$(awk -v a="$hw" 'BEGIN { print (a <= 2) }')"
check "hic vet peak RSS ${hr} MiB <= 500 MiB" "$(awk -v a="$hr" 'BEGIN { print (a <= 500) }')"
check "hic/cue wall ratio ${ratio}x <= 2x" "$(awk -v a="$ratio" 'BEGIN { print (a <= 2) }')"
exit $status

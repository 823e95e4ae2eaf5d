#!/usr/bin/env bash
# make bench: every benchmark behind BENCHMARKS.md, each comparing hic with
# its peer tool in the same run (cue vet for hic vet, the apko CLI for hic build;
# bench-scale.sh: real package sizes, the layer floor, no-op, publish;
# bench-site.sh: the site index in headless Chromium, no peer tool).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
status=0
for b in .ci/bench-vet.sh .ci/bench-build.sh .ci/bench-scale.sh .ci/bench-site.sh; do
	if [[ -x $b ]]; then
		echo "== $b"
		"$b" || status=$?
	else
		echo "bench.sh: $b is missing" >&2
		status=1
	fi
done
exit $status

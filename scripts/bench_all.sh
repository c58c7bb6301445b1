#!/usr/bin/env bash
# Runs the criterion benches named on the command line (default: all) and
# prints the ratio tables for docs/benchmarks.md. Environment knobs:
#   LATCHWORK_BENCH_OPS      operations per thread (default 2,000,000)
#   LATCHWORK_BENCH_THREADS  thread counts, e.g. 1,2,4 (default)
set -euo pipefail
cd "$(dirname "$0")/.."
benches=("$@")
if [ ${#benches[@]} -eq 0 ]; then
  mapfile -t benches < <(ls benches/*.rs | xargs -n1 basename | sed 's/\.rs$//')
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); date: $(date -u +%F)"
for b in "${benches[@]}"; do
  cargo bench --bench "$b" 2>&1 | grep -E "hit ratio|^  [a-z]|single-flight|bytes" || true
done
scripts/bench_table.py ""

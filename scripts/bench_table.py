#!/usr/bin/env python3
"""Print criterion results as a markdown table with ratios.

Usage: scripts/bench_table.py GROUP_PREFIX [BASELINE_FUNCTION]

Reads target/criterion/<group>/<function>/<param>/new/estimates.json (and
benchmark.json for throughput) for every group whose name starts with
GROUP_PREFIX. Prints median throughput (Melem/s) per function and parameter,
and each function's ratio to BASELINE_FUNCTION (default: 'latchwork') of the
same group and parameter.
"""
import glob
import json
import os
import sys

root = os.environ.get("CRITERION_DIR", "target/criterion")
prefix = sys.argv[1] if len(sys.argv) > 1 else ""
ours = sys.argv[2] if len(sys.argv) > 2 else "latchwork"
rows = {}
for est in glob.glob(f"{root}/**/new/estimates.json", recursive=True):
    d = os.path.dirname(os.path.dirname(est))
    bench = json.load(open(os.path.join(os.path.dirname(est), "benchmark.json")))
    group = bench["group_id"]
    if not group.startswith(prefix):
        continue
    func = bench.get("function_id") or ""
    param = bench.get("value_str") or ""
    median_ns = json.load(open(est))["median"]["point_estimate"]
    tp = bench.get("throughput") or {}
    elems = tp.get("Elements") or tp.get("Bytes") or 1
    rows.setdefault((group, param), {})[func] = elems / median_ns * 1e3  # Melem/s
for (group, param), funcs in sorted(rows.items()):
    base = funcs.get(ours)
    print(f"\n**{group}** {param}\n")
    print(f"| implementation | Mops/s | {ours} / this |")
    print("|---|---:|---:|")
    for f, v in sorted(funcs.items(), key=lambda kv: -kv[1]):
        ratio = f"{base / v:.2f}x" if base else "-"
        print(f"| {f} | {v:.2f} | {ratio} |")

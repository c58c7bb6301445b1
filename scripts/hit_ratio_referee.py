#!/usr/bin/env python3
"""Independent referee for the hit-ratio suite (WORKLOADS.md).

1. Makes (once) a venv at target/venv-referee with libcachesim (pinned),
   and re-runs itself inside it.
2. Runs `cargo run --release --example hit_ratio` to write every trace, one
   key a line, plus manifest.csv, and our caches' hits (CSV).
3. Replays each trace through libCacheSim's LRU, S3FIFO, WTinyLFU, Sieve and
   ARC (plain-text reader, ignore_obj_size: every object has size 1, so the
   cache size counts objects), with libCacheSim's default parameters.
4. Prints one markdown table, ours beside theirs, writes it (and a CSV with
   every row) to the output directory, and draws docs/img/hit_ratio_<trace>.svg
   (with scripts/svgplot.py; scripts/bench_report redraws them from
   docs/bench-data/hit_ratio.json).
5. Checks that `latchwork LruCache` and libCacheSim's LRU have the same hit
   count on every trace x capacity; exits 1 when not. Both count every
   request, cold misses included: hit ratio = hits / requests.

With --real [DIR] it runs the real-trace suite instead: the recorded
traces of DIR (default ../shared/traces: gzip-compressed u64 keys and a
README listing each trace's capacities), the same contenders, libCacheSim's
LIRS and TwoQ besides, a "best other" column (the best hit ratio of any
cache but latchwork's Cache), plots docs/img/hit_ratio_real_<trace>.svg,
and its table in target/hit_ratio_real/table.md. It says so and exits 2
when the traces are absent.

Usage: scripts/hit_ratio.sh [--no-run] [--requests N] [--out DIR] [--real [DIR]]
(see --help). Needs python3 with venv, cargo, and PyPI for the first run.
"""

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import svgplot  # noqa: E402  (scripts/svgplot.py, stdlib only)

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "target" / "venv-referee"
# The LRU check depends on the simulator's exact behaviour: pin it.
REQUIREMENTS = ["libcachesim==0.3.5"]
OUR_LRU = "latchwork LruCache"
POLICIES = ["LRU", "S3FIFO", "WTinyLFU", "Sieve", "ARC"]


def referee_name(policy):
    return f"libCacheSim {policy}"


def ensure_venv():
    """Re-executes this script inside the referee venv, creating it first."""
    venv_python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not venv_python.exists():
        print(f"creating {VENV.relative_to(ROOT)}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run(
        [str(venv_python), "-c", "import libcachesim"], capture_output=True
    )
    if probe.returncode != 0:
        subprocess.run(
            [str(venv_python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True
        )
    os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--traces", default="target/traces", help="trace directory")
    p.add_argument("--out", default="target/hit_ratio", help="output directory")
    p.add_argument("--svg-dir", default="docs/img", help="where the SVGs go")
    p.add_argument("--requests", type=int, help="request budget per trace")
    p.add_argument(
        "--no-run",
        action="store_true",
        help="reuse the traces and ours.csv already written",
    )
    p.add_argument("--no-plots", action="store_true")
    p.add_argument(
        "--real",
        nargs="?",
        const="../shared/traces",
        help="replay the recorded traces of this directory (default ../shared/traces)",
    )
    args = p.parse_args()
    if args.real:
        real = (ROOT / args.real).resolve()
        if not (real / "README.md").exists():
            sys.exit(f"real traces not found in {real} (need README.md and NAME.u64.gz files); "
                     "pass --real DIR")
        args.real = real
        if args.traces == "target/traces":
            args.traces = "target/traces_real"
        if args.out == "target/hit_ratio":
            args.out = "target/hit_ratio_real"
    return args


def run_example(args, traces, ours_csv):
    cmd = ["cargo", "run", "--release", "--example", "hit_ratio", "--"]
    cmd += ["--trace-dir", str(traces), "--csv", str(ours_csv)]
    cmd += ["--json", str(ours_csv.with_suffix(".json"))]
    if args.requests:
        cmd += ["--requests", str(args.requests)]
    if args.real:
        cmd += ["--real", str(args.real)]
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def replay(lcs, path, capacity, policy, requests):
    """Hits of one libCacheSim policy on one trace file."""
    params = lcs.ReaderInitParam(ignore_obj_size=True)
    reader = lcs.TraceReader(str(path), lcs.TraceType.PLAIN_TXT_TRACE, params)
    n = reader.get_num_of_req()
    if n != requests:
        sys.exit(f"{path}: libCacheSim reads {n} requests, the manifest says {requests}")
    cache = getattr(lcs, policy)(cache_size=capacity)
    miss_ratio, _ = cache.process_trace(reader)
    # The miss ratio is n_miss / n_req in a double; n_req < 2^53, so rounding
    # recovers the integer count exactly.
    return round((1.0 - miss_ratio) * n)


def markdown(cases, columns, hits):
    head = "| trace | capacity | " + " | ".join(columns) + " |"
    rule = "|---|---:|" + "---:|" * len(columns)
    lines = [head, rule]
    for trace, capacity, requests in cases:
        cells = [f"{100.0 * hits[(trace, capacity, c)] / requests:.2f}" for c in columns]
        lines.append(f"| {trace} | {capacity} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def hit_ratio_svg(trace, capacities, series, footnote=None):
    """The SVG text of one trace's plot: hit ratio (%) against capacity, one
    line per cache; ours solid, libCacheSim's dashed. `series` is a list of
    (name, [percent per capacity])."""
    lines = [
        svgplot.Series(name, list(zip(capacities, ys)), dashed=name.startswith("libCacheSim"))
        for name, ys in series
    ]
    return svgplot.line_chart(
        lines,
        title=f"hit ratio, trace {trace}",
        x_label="capacity (entries; 100,000 keys)",
        y_label="hit ratio (%)",
        log_x=True,
        x_ticks=capacities,
        y_min=0.0,
        y_max=100.0,
        y_suffix="%",
        footnote=footnote,
    )


def plot(cases, columns, percent, svg_dir, footnote=None):
    """Writes svg_dir/hit_ratio_<trace>.svg for every trace of `cases`
    ((trace, capacity, requests) rows); percent[(trace, capacity, column)]
    is a hit ratio in %. Returns the paths written."""
    svg_dir = Path(svg_dir)
    traces = list(dict.fromkeys(t for t, _, _ in cases))
    written = []
    for trace in traces:
        capacities = [c for t, c, _ in cases if t == trace]
        series = [
            (col, [percent[(trace, c, col)] for c in capacities])
            for col in columns
            if all((trace, c, col) in percent for c in capacities)
        ]
        path = svg_dir / f"hit_ratio_{trace}.svg"
        written.append(svgplot.write_svg(path, hit_ratio_svg(trace, capacities, series, footnote)))
    return written


def main():
    ensure_venv()
    import libcachesim as lcs

    args = parse_args()
    traces = ROOT / args.traces
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    ours_csv = out / "ours.csv"
    if not args.no_run:
        run_example(args, traces, ours_csv)

    manifest = read_csv(traces / "manifest.csv")
    ours = read_csv(ours_csv)
    cases = [(m["trace"], int(m["capacity"]), int(m["requests"])) for m in manifest]
    files = {(m["trace"], int(m["capacity"])): traces / m["file"] for m in manifest}

    hits = {}
    our_columns = list(dict.fromkeys(r["cache"] for r in ours))
    for r in ours:
        hits[(r["trace"], int(r["capacity"]), r["cache"])] = int(r["hits"])

    t0 = time.time()
    policies = POLICIES + (["LIRS", "TwoQ"] if args.real else [])
    for trace, capacity, requests in cases:
        for policy in policies:
            h = replay(lcs, files[(trace, capacity)], capacity, policy, requests)
            hits[(trace, capacity, referee_name(policy))] = h
        print(f"libCacheSim {trace:>10} {capacity:>6} done", file=sys.stderr)
    print(f"libCacheSim replays took {time.time() - t0:.1f}s", file=sys.stderr)

    columns = our_columns + [referee_name(p) for p in policies]
    if args.real:
        best = "best other"
        for trace, capacity, _ in cases:
            hits[(trace, capacity, best)] = max(
                hits[(trace, capacity, c)] for c in columns if not c.startswith("latchwork Cache")
            )
        columns.append(best)
    table = markdown(cases, columns, hits)
    header = (
        f"Hit ratio (%), hits / requests, every request counted. "
        f"libcachesim {lcs.__version__} (defaults; ignore_obj_size). "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}.\n\n"
    )
    (out / "table.md").write_text(header + table)
    with open(out / "all.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trace", "capacity", "cache", "requests", "hits", "hit_ratio"])
        for trace, capacity, requests in cases:
            for c in columns:
                h = hits[(trace, capacity, c)]
                w.writerow([trace, capacity, c, requests, h, f"{100.0 * h / requests:.6f}"])
    print(header + table)

    if not args.no_plots:
        percent = {
            (t, c, col): 100.0 * hits[(t, c, col)] / n for t, c, n in cases for col in columns
        }
        footnote = (
            f"libcachesim {lcs.__version__} (defaults; ignore_obj_size), "
            f"{time.strftime('%Y-%m-%d', time.gmtime())}; hits / requests"
        )
        if args.real:
            cases_plot = [(f"real_{t}", c, n) for t, c, n in cases]
            percent = {(f"real_{t}", c, col): v for (t, c, col), v in percent.items()}
        else:
            cases_plot = cases
        for path in plot(cases_plot, columns, percent, ROOT / args.svg_dir, footnote):
            print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)

    # The referee's own check: strict LRU is deterministic, so ours and
    # libCacheSim's must agree hit for hit on every trace x capacity.
    if OUR_LRU not in our_columns:
        sys.exit(f"LRU check: no '{OUR_LRU}' rows in {ours_csv}")
    bad = [
        (t, c, hits[(t, c, OUR_LRU)], hits[(t, c, referee_name("LRU"))])
        for t, c, _ in cases
        if hits[(t, c, OUR_LRU)] != hits[(t, c, referee_name("LRU"))]
    ]
    for t, c, a, b in bad:
        print(f"LRU check FAILED: {t} @ {c}: {OUR_LRU} {a} hits, libCacheSim LRU {b}")
    if bad:
        sys.exit(1)
    print(f"LRU check passed: {OUR_LRU} == libCacheSim LRU, hit for hit, "
          f"on all {len(cases)} trace x capacity cases")


if __name__ == "__main__":
    main()

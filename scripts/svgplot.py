"""A small, dependency-free SVG line chart (Python 3 stdlib only).

Used by scripts/bench_report (throughput against threads) and
scripts/hit_ratio_referee.py (hit ratio against capacity). The output is a
pure function of the arguments: the same call writes the same bytes, so
generated plots can be checked into git and compared in CI.

    from svgplot import Series, line_chart
    svg = line_chart(
        [Series("latchwork", [(1, 9.5), (2, 12.0)]),
         Series("moka", [(1, 3.1), (2, 4.0)], dashed=True)],
        title="cache/zipf-cache", x_label="threads", y_label="Mops/s",
        footnote="commit abc1234, 2026-12-03, ...")
    write_svg("docs/img/x.svg", svg)
"""

import math
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

# Solid series take these in order; dashed ones take DASHED_COLORS.
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#17becf",
          "#393b79", "#637939", "#843c39", "#7b4173"]
DASHED_COLORS = ["#000000", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]


@dataclass
class Series:
    """One line: a name for the legend and its (x, y) points."""

    name: str
    points: list
    dashed: bool = False
    color: str = field(default="")


def _num(v):
    """Fixed formatting for coordinates: stable bytes across runs."""
    s = f"{v:.1f}"
    return "0.0" if s == "-0.0" else s


def _nice_step(span, target=5):
    """A 1/2/5 x 10^k step giving about `target` intervals over `span`."""
    if span <= 0:
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _fmt_tick(v, step):
    if step >= 1 and abs(v - round(v)) < 1e-9:
        return f"{int(round(v)):,}"
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 2
    return f"{v:.{decimals}f}"


def line_chart(series, *, title, x_label, y_label, log_x=False, x_ticks=None,
               x_tick_labels=None, y_min=0.0, y_max=None, y_suffix="",
               footnote=None, width=760, height=440):
    """Returns the SVG text of a line chart.

    series: Series objects (points are (x, y); y None is a gap).
    log_x: logarithmic x axis (x must be > 0).
    x_ticks / x_tick_labels: where to mark the x axis and with what text
    (default: every distinct x of the data, as given).
    y_min / y_max: the y range (y_max default: the data's maximum, rounded
    up to a tick). y_suffix is appended to y tick labels (e.g. "%").
    footnote: a line of small text under the chart (a stamp, say).
    """
    left, right, top = 64, 200, 34
    bottom = 52 + (16 if footnote else 0)
    pw, ph = width - left - right, height - top - bottom
    xs = sorted({p[0] for s in series for p in s.points})
    ys = [p[1] for s in series for p in s.points if p[1] is not None]
    if x_ticks is None:
        x_ticks = xs
    if x_tick_labels is None:
        x_tick_labels = [f"{x:,}" if isinstance(x, int) else f"{x:g}" for x in x_ticks]
    lo_y = y_min if y_min is not None else (min(ys) if ys else 0.0)
    hi_y = y_max if y_max is not None else (max(ys) if ys else 1.0)
    step = _nice_step(hi_y - lo_y if hi_y > lo_y else abs(hi_y) or 1.0)
    if y_max is None:
        hi_y = math.ceil(hi_y / step - 1e-9) * step if hi_y > lo_y else lo_y + step
    if hi_y <= lo_y:
        hi_y = lo_y + step

    tx = (lambda v: math.log10(v)) if log_x else (lambda v: float(v))
    all_x = [tx(v) for v in list(xs) + list(x_ticks)] or [0.0, 1.0]
    lo_x, hi_x = min(all_x), max(all_x)
    pad = 0.0 if hi_x > lo_x else 0.5

    def px(v):
        return left + pw * (tx(v) - lo_x + pad) / ((hi_x - lo_x) + 2 * pad)

    def py(v):
        return top + ph * (1 - (v - lo_y) / (hi_y - lo_y))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="20" font-size="14">{escape(title)}</text>',
    ]
    # Grid and y ticks.
    n = int(round((hi_y - lo_y) / step))
    for i in range(n + 1):
        v = lo_y + i * step
        y = _num(py(v))
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y}" y2="{y}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 6}" y="{_num(py(v) + 4)}" text-anchor="end">'
                   f'{escape(_fmt_tick(v, step) + y_suffix)}</text>')
    for v, label in zip(x_ticks, x_tick_labels):
        x = _num(px(v))
        out.append(f'<line x1="{x}" x2="{x}" y1="{top}" y2="{top + ph}" stroke="#f0f0f0"/>')
        out.append(f'<text x="{x}" y="{top + ph + 16}" text-anchor="middle">{escape(label)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{top + ph + 36}" text-anchor="middle">'
               f'{escape(x_label)}</text>')
    out.append(f'<text x="16" y="{top + ph / 2:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 16 {top + ph / 2:.1f})">{escape(y_label)}</text>')
    # Lines, markers, legend.
    solid, dashed = iter(COLORS * 4), iter(DASHED_COLORS * 8)
    for i, s in enumerate(series):
        color = s.color or (next(dashed) if s.dashed else next(solid))
        dash = ' stroke-dasharray="5,3"' if s.dashed else ""
        pts = [(px(x), py(y)) for x, y in sorted(s.points, key=lambda p: tx(p[0])) if y is not None]
        if len(pts) > 1:
            coords = " ".join(f"{_num(a)},{_num(b)}" for a, b in pts)
            out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" '
                       f'stroke-width="1.6"{dash}/>')
        for a, b in pts:
            if s.dashed:
                out.append(f'<rect x="{_num(a - 2.5)}" y="{_num(b - 2.5)}" width="5" height="5" '
                           f'fill="{color}"/>')
            else:
                out.append(f'<circle cx="{_num(a)}" cy="{_num(b)}" r="2.8" fill="{color}"/>')
        ly = top + 12 + 16 * i
        lx = width - right + 12
        out.append(f'<line x1="{lx}" x2="{lx + 22}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" '
                   f'stroke-width="1.6"{dash}/>')
        out.append(f'<text x="{lx + 28}" y="{ly}">{escape(s.name)}</text>')
    if footnote:
        out.append(f'<text x="{left}" y="{height - 8}" font-size="9" fill="#555">'
                   f'{escape(footnote)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_svg(path, svg):
    """Writes `svg` to `path` (creating its directory); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg, encoding="utf-8")
    return path

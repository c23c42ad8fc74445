"""A selection of the history as CSV, as a table of figures, and as a picture.

The CSV has one row per point in time: the local time (ISO 8601 with its offset), the Unix time, and one
column per variable (its mean), followed in minute and hour resolution by ``<name>.min`` and
``<name>.max``. Gaps are left out; a variable without a point at that time has an empty cell.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
import sqlite3
import textwrap
from pathlib import Path

from .query import Selection, Series, runs


def local_time(t: float) -> str:
    return _dt.datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")


def to_csv(selection: Selection) -> str:
    """The selection as CSV text (see the module docstring)."""
    names = list(selection.series)
    extremes = selection.resolution != "full"
    header = ["time", "unix_time"]
    for name in names:
        header += [name, f"{name}.min", f"{name}.max"] if extremes else [name]
    rows: dict[float, dict[str, tuple[float, float, float]]] = {}
    for name, series in selection.series.items():
        for t, mean, low, high in zip(series.t, series.mean, series.min, series.max, strict=True):
            if not math.isnan(mean):
                rows.setdefault(t, {})[name] = (mean, low, high)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for t in sorted(rows):
        line: list[object] = [local_time(t), f"{t:.3f}"]
        for name in names:
            point = rows[t].get(name)
            cells = ("", "", "") if point is None else tuple(f"{v:.9g}" for v in point)
            line += list(cells if extremes else cells[:1])
        writer.writerow(line)
    return out.getvalue()


def table(selection: Selection) -> str:
    """Per variable: points, first and last time, minimum, mean, maximum and last value."""
    lines = [
        f"{len(selection.series)} variable(s), {local_time(selection.since)} to "
        f"{local_time(selection.until)}, {selection.resolution} resolution"
    ]
    width = max([len(n) for n in selection.series] + [8])
    lines.append(
        f"{'variable':<{width}}  {'points':>7}  {'first':<19}  {'last':<19}  "
        f"{'min':>11}  {'mean':>11}  {'max':>11}  {'last value':>11}"
    )
    for name, series in selection.series.items():
        lines.append(f"{name:<{width}}  {_figures(series)}")
    return "\n".join(lines)


def _figures(series: Series) -> str:
    columns = zip(series.t, series.mean, series.min, series.max, strict=True)
    points = [point for point in columns if not math.isnan(point[1])]
    if not points:
        return f"{0:>7}  (no values in this span)"
    count = len(points)
    mean = sum(m for _, m, _, _ in points) / count
    first, last = points[0], points[-1]
    return (
        f"{count:>7}  {local_time(first[0])[:19]:<19}  {local_time(last[0])[:19]:<19}  "
        f"{min(p[2] for p in points):>11.5g}  {mean:>11.5g}  {max(p[3] for p in points):>11.5g}  "
        f"{last[1]:>11.5g}"
    )


def overview(db: sqlite3.Connection, names: list[str], since: float, until: float) -> str:
    """The runs of the span (with their pauses) and the names of all variables."""
    found = runs(db, since, until)
    lines = [f"{len(found)} run(s) from {local_time(since)} to {local_time(until)}:"]
    for run in found:
        pauses = f", {len(run['pauses'])} pause(s)" if run["pauses"] else ""
        lines.append(
            f"  {run['name']}  ({run['setup']})  {local_time(run['start'])[:19]} to "
            f"{local_time(run['end'])[:19]}{pauses}"
        )
    lines.append(f"{len(names)} variable(s):")
    lines += textwrap.wrap("  ".join(names), 100, initial_indent="  ", subsequent_indent="  ")
    return "\n".join(lines)


def picture(selection: Selection, path: Path, runs: list[dict]) -> None:
    """One panel per variable over a shared time axis: the mean, the band between minimum and maximum,
    the runs' pauses shaded."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = list(selection.series)
    fig, axes = plt.subplots(len(names), 1, sharex=True, squeeze=False, figsize=(10, 1.6 + 1.8 * len(names)))
    for ax, name in zip(axes[:, 0], names, strict=True):
        s = selection.series[name]
        when = [_dt.datetime.fromtimestamp(t) for t in s.t]
        if selection.resolution != "full":
            ax.fill_between(when, s.min, s.max, alpha=0.25, linewidth=0)
        ax.plot(when, s.mean, linewidth=1)
        for run in runs:
            for a, b in run["pauses"]:
                ax.axvspan(_dt.datetime.fromtimestamp(a), _dt.datetime.fromtimestamp(b), color="0.85")
        ax.set_ylabel(name, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(f"history, {selection.resolution} resolution", fontsize=10)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

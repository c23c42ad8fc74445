"""The rates picture of a run, drawn from its ``stats.csv`` (``python -m mimocorb.display.rates``).

The run controller never imports matplotlib (it selects no backend and needs no display): at the end of
every run (and, without a monitor window, every ``RATES_INTERVAL`` seconds) it starts this module as a
short-lived process that turns the statistics it already records into ``rates.png``: the rate of every
buffer (log scale) and its fill level against the run time.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from .backend import agg_figure, save_png


def read_stats(path: Path) -> dict[str, dict[str, list[float]]]:
    """Per buffer: time, rate and fill fraction of every sample."""
    out: dict[str, dict[str, list[float]]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                t, rate = float(row["time_s"]), float(row["rate_hz"])
                fill = float(row["fill"]) / max(float(row["slots"]), 1.0)
            except (KeyError, TypeError, ValueError):
                continue  # a row cut off by a killed run
            series = out.setdefault(row["buffer"], {"t": [], "rate": [], "fill": []})
            if row.get("state") == "ended" and series["t"]:
                continue  # the closing row repeats the last rate
            series["t"].append(t)
            series["rate"].append(rate)
            series["fill"].append(100.0 * fill)
    return out


def render(stats: Path, picture: Path, title: str = "") -> None:
    """Draw ``rates.png`` from ``stats.csv``: rate per buffer (log scale), fill level."""
    data = read_stats(stats)
    fig = agg_figure((10.0, 6.0), 100.0)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    for name, s in data.items():
        top.plot(s["t"], [max(r, 1e-2) for r in s["rate"]], label=name, marker=".", ms=3)
        bottom.plot(s["t"], s["fill"], label=name)
    top.set_yscale("log")
    top.set_ylabel("rate (Hz)")
    top.grid(True, which="both", color="grey", alpha=0.25)
    if data:
        top.legend(loc="upper left", fontsize="small")
    bottom.set_ylim(0, 105)
    bottom.set_ylabel("filled (%)")
    bottom.set_xlabel("time since start (s)")
    bottom.grid(True, color="grey", alpha=0.25)
    fig.suptitle(title or f"buffer rates - {stats.parent.name}")
    fig.tight_layout()
    save_png(fig, str(picture))


def main(argv: list[str] | None = None) -> int:
    """``python -m mimocorb.display.rates STATS.csv PICTURE.png``; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m mimocorb.display.rates STATS.csv PICTURE.png", file=sys.stderr)
        return 2
    render(Path(args[0]), Path(args[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

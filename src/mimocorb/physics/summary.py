"""End-of-run physics summary of the muon-lifetime example.

Two pieces, both driven from the example's own functions, so that the setup file stays as the mimoCoRB
1.0.2 example has it:

* each filter process counts the events it judged (:class:`SelectionCounter`) and leaves the counts in the
  run directory (``selection_<pid>.json``) when it ends;
* ``save_to_txt``, the last stage, calls :func:`write_lifetime_summary` after its last event. The orderly
  end shuts a buffer down only after every process writing it has exited, so by then the filters' counts
  are complete and the text file holds every accepted event. The summary is computed from those files
  alone: it can be recomputed later from a run directory (``python -m mimocorb.physics.summary RUN_DIR``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .lifetime import DEFAULT_WINDOW_NS, LifetimeFit, fit_lifetime
from .simulation import MUON_LIFETIME_NS

SUMMARY_FILE = "physics_summary.json"
PLOT_FILE = "lifetime_fit.png"
COUNTS_PATTERN = "selection_*.json"
HISTOGRAM_BINS = np.linspace(0.0, 15000.0, 76)  # 200 ns bins, as the live histogram


class SelectionCounter:
    """Events judged and accepted by one filter process, saved to the run directory at its end."""

    def __init__(self, directory: str | os.PathLike):
        self.path = Path(directory) / f"selection_{os.getpid()}.json"
        self.seen = 0
        self.accepted = 0

    def count(self, accepted: bool) -> None:
        """Count one judged event."""
        self.seen += 1
        self.accepted += accepted

    def save(self) -> None:
        """Write the counts to the run directory, replacing the earlier ones of this process."""
        self.path.write_text(json.dumps({"seen": self.seen, "accepted": self.accepted}) + "\n")


def read_selection_counts(directory: Path) -> tuple[int, int] | None:
    """Summed (seen, accepted) over the filter processes of a run, None if no filter left counts."""
    files = sorted(directory.glob(COUNTS_PATTERN))
    if not files:
        return None
    counts = [json.loads(f.read_text()) for f in files]
    return sum(c["seen"] for c in counts), sum(c["accepted"] for c in counts)


def read_columns(path: Path, header_alias: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """The columns of an exported text file by field name (column titles mapped back through the aliases)."""
    names_by_title = {title: name for name, title in (header_alias or {}).items()}
    with path.open(encoding="utf-8") as stream:
        titles = stream.readline().rstrip("\n").split("\t")
        rows = [line.rstrip("\n").split("\t") for line in stream if line.strip()]
    table = np.array(rows, dtype=np.float64).reshape(len(rows), len(titles))
    return {names_by_title.get(title, title): table[:, k] for k, title in enumerate(titles)}


def lifetime_summary(
    decay_times: np.ndarray, events: int | None, fit_window_ns: Sequence[float] = DEFAULT_WINDOW_NS
) -> dict[str, Any]:
    """What shows whether a lifetime run is right (accepted fraction, fitted lifetime), as a JSON dict."""
    t_min, t_max = (float(x) for x in fit_window_ns)
    fit = fit_lifetime(decay_times, t_min, t_max)
    accepted = len(decay_times)
    fraction = accepted / events if events else math.nan
    fraction_error = math.sqrt(fraction * (1 - fraction) / events) if events else math.nan
    summary = {
        "events": events,
        "accepted_double_pulses": accepted,
        "accepted_fraction": fraction,
        "accepted_fraction_error": fraction_error,
        "lifetime_ns": fit.tau,
        "lifetime_error_ns": fit.error,
        "decays_in_fit_window": fit.n_used,
        "fit_window_ns": [t_min, t_max],
        "fit": "unbinned maximum likelihood, exponential truncated to the fit window",
        "expected": {"lifetime_ns": MUON_LIFETIME_NS, "accepted_fraction": 0.079},
    }
    # strict JSON has no NaN: undetermined numbers (no events, too few decays) become null
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in summary.items()}


def _fmt(value: float | None, scale: float = 1.0, digits: int = 0) -> str:
    return "n/a" if value is None else f"{scale * value:.{digits}f}"


def format_summary(summary: Mapping[str, Any]) -> str:
    """The summary as the few lines printed at the end of the run."""
    events = summary["events"]
    t_min, t_max = summary["fit_window_ns"]
    fraction, fraction_error = summary["accepted_fraction"], summary["accepted_fraction_error"]
    lines = [
        "muon lifetime run: physics summary",
        f"  events (triggers)       {events if events is not None else 'unknown'}",
        f"  accepted double pulses  {summary['accepted_double_pulses']}",
        f"  accepted fraction       {_fmt(fraction, 100, 2)} % ± {_fmt(fraction_error, 100, 2)} %"
        "   (expected ≈ 7.9 %)",
        f"  muon lifetime           {_fmt(summary['lifetime_ns'])} ± {_fmt(summary['lifetime_error_ns'])} ns"
        f"   (fit of {summary['decays_in_fit_window']} decays in [{t_min:g}, {t_max:g}) ns;"
        f" expected {MUON_LIFETIME_NS:g} ns)",
    ]
    return "\n".join(lines)


def plot_decay_times(decay_times: np.ndarray, fit: LifetimeFit, path: Path) -> None:
    """Decay-time histogram with the fitted exponential, as a PNG (matplotlib's Agg canvas, no GUI)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts, edges = np.histogram(decay_times, HISTOGRAM_BINS)
    centres = 0.5 * (edges[1:] + edges[:-1])
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    shown = counts > 0
    axes.errorbar(
        centres[shown], counts[shown], yerr=np.sqrt(counts[shown]), fmt="o", ms=3, label="accepted decays"
    )
    if math.isfinite(fit.tau):
        lo, hi = np.clip(edges[:-1], fit.t_min, fit.t_max), np.clip(edges[1:], fit.t_min, fit.t_max)
        norm = fit.n_used / (math.exp(-fit.t_min / fit.tau) - math.exp(-fit.t_max / fit.tau))
        expected = norm * (np.exp(-lo / fit.tau) - np.exp(-hi / fit.tau))
        inside = hi > lo
        axes.plot(
            centres[inside], expected[inside], "-", label=f"fit: τ = {fit.tau:.0f} ± {fit.error:.0f} ns"
        )
    axes.axvspan(0, fit.t_min, color="0.85", label="outside the fit window")
    axes.axvspan(fit.t_max, edges[-1], color="0.85")
    axes.set_yscale("log")
    axes.set_xlim(edges[0], edges[-1])
    axes.set_xlabel("decay time (ns)")
    axes.set_ylabel("events per 200 ns")
    axes.set_title("muon decay times")
    axes.legend()
    figure.savefig(path, dpi=100)


def summarize_run(
    directory: str | os.PathLike,
    filename: str,
    header_alias: Mapping[str, str] | None = None,
    fit_window_ns: Sequence[float] = DEFAULT_WINDOW_NS,
) -> dict[str, Any]:
    """Summary of a finished lifetime run: reads ``<filename>.txt`` and the filters' counts, writes
    ``physics_summary.json`` and ``lifetime_fit.png`` into ``directory``, prints the result, returns it."""
    directory = Path(directory)
    columns = read_columns(directory / f"{filename}.txt", header_alias)
    if "decay_time" not in columns:
        raise ValueError(f"{directory / filename}.txt: no column 'decay_time' (or its alias) to fit")
    counts = read_selection_counts(directory)
    decay_times = columns["decay_time"]
    summary = lifetime_summary(decay_times, None if counts is None else counts[0], fit_window_ns)
    (directory / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    fit = fit_lifetime(decay_times, *summary["fit_window_ns"])
    plot_decay_times(decay_times, fit, directory / PLOT_FILE)
    print(format_summary(summary), flush=True)
    return summary


def write_lifetime_summary(
    txt_config: Mapping[str, Any], fit_window_ns: Sequence[float] = DEFAULT_WINDOW_NS
) -> None:
    """What ``save_to_txt`` calls at the end of the run, with its own exporter config."""
    summarize_run(
        txt_config["directory_prefix"], txt_config["filename"], txt_config.get("header_alias"), fit_window_ns
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mimocorb.physics.summary RUN_DIR``: the summary of a finished run, again."""
    parser = argparse.ArgumentParser(
        prog="python -m mimocorb.physics.summary",
        description="(Re)compute the physics summary of a finished muon-lifetime run directory.",
    )
    parser.add_argument("run_directory")
    parser.add_argument(
        "--config", default="save_lifetime.yaml", help="the save_to_txt config in the run directory"
    )
    args = parser.parse_args(argv)
    import yaml

    directory = Path(args.run_directory)
    config = yaml.safe_load((directory / args.config).read_text(encoding="utf-8"))
    options = config.get("physics_summary") or {}
    summarize_run(directory, config["filename"], config.get("header_alias"), **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Live histograms of buffer fields: counted in the reader, drawn in the plot process.

Config keys: ``histograms`` (``{field: [min, max, nbins, ymax, label, scale]}``, scale 0 = linear,
1 = logarithmic y axis), ``title`` ("Histograms"), ``interval`` (s between two pictures, 2.0), and
mimocorb's own ``snapshot_interval`` (s between PNG snapshots without a display, 10).

The reader keeps the counts itself and sends only the (small) totals to the plot process, so a slow,
closed or crashed window costs the reader nothing, and the final picture is drawn from the reader's
own numbers. Bars are normalised to the number of entries (values in ``[min, max)``); entries, mean
and standard deviation are those of the entries, computed from the values themselves, not from bins.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

BATCH = 512  # values collected per field before they are counted with numpy


@dataclass(frozen=True)
class HistogramSpec:
    """One histogram: ``[min, max, nbins, ymax, label, scale]`` of the config."""

    field: str
    low: float
    high: float
    nbins: int
    ymax: float
    label: str
    log: bool

    @classmethod
    def parse(cls, field: str, entry: Any, owner: str = "histogram_buffer") -> HistogramSpec:
        where = f"{owner}: config key 'histograms: {field}'"
        expected = "[min, max, nbins, ymax, label, 0 (linear) or 1 (log)]"
        if not isinstance(entry, (list, tuple)) or len(entry) != 6:
            raise ValueError(f"{where} must be a list {expected}, got {entry!r}")
        low, high, nbins, ymax, label, scale = entry
        try:
            low, high, ymax = float(low), float(high), float(ymax)
            nbins_int = int(nbins)
        except (TypeError, ValueError):
            raise ValueError(f"{where} must be {expected} with numbers, got {entry!r}") from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"{where}: min must be below max, got {entry!r}")
        if nbins_int < 1 or nbins_int != nbins or ymax <= 0:
            raise ValueError(f"{where}: nbins must be a positive integer and ymax > 0, got {entry!r}")
        if scale not in (0, 1, True, False):
            raise ValueError(f"{where}: scale must be 0 (linear) or 1 (log), got {scale!r}")
        return cls(field, low, high, nbins_int, ymax, str(label), bool(scale))

    @property
    def edges(self) -> np.ndarray:
        """The ``nbins + 1`` bin edges."""
        return np.linspace(self.low, self.high, self.nbins + 1)

    @property
    def ylim(self) -> tuple[float, float]:
        """The frequency axis range (from 1/1000 of the top on a log scale)."""
        top = self.ymax / self.nbins
        return (1e-3 * top, top) if self.log else (0.0, top)


def parse_histograms(config: Mapping[str, Any], fields: list[str], owner: str) -> list[HistogramSpec]:
    """The histogram list of a config; unknown fields leave no histograms at all (as the original)."""
    table = config.get("histograms") or {}
    if not isinstance(table, Mapping):
        raise ValueError(
            f"{owner}: config key 'histograms' must be a mapping field: [min, max, nbins, ymax, label, "
            f"scale], got {type(table).__name__}"
        )
    specs = [HistogramSpec.parse(str(name), entry, owner) for name, entry in table.items()]
    unknown = [s.field for s in specs if s.field not in fields]
    if unknown:
        print(
            f"{owner}: {', '.join(unknown)} not among the buffer's fields {fields}; "
            "no histograms are made (events are still counted)"
        )
        return []
    return specs


def as_specs(descriptions: Any) -> list[HistogramSpec]:
    """Histogram descriptions as ``HistogramSpec``; plain ``[min, max, nbins, ymax, label, scale]`` lists
    (the original's form, without field names) are accepted too and named after their label."""
    out = []
    for i, d in enumerate(descriptions):
        out.append(d if isinstance(d, HistogramSpec) else HistogramSpec.parse(str(d[4]) or f"h{i}", d))
    return out


class Histogram:
    """Counts, entries and the sums for mean and standard deviation of one field."""

    def __init__(self, spec: HistogramSpec) -> None:
        self.spec = spec
        self.counts = np.zeros(spec.nbins, dtype=np.int64)
        self.entries = 0
        self._sum = 0.0
        self._sum2 = 0.0

    def fill(self, values: np.ndarray) -> None:
        """Count the values inside [min, max); NaN and values outside are left out."""
        s = self.spec
        v = np.asarray(values, dtype=np.float64)
        v = v[(v >= s.low) & (v < s.high)]  # NaN fails both comparisons
        if not v.size:
            return
        index = np.minimum(((v - s.low) * (s.nbins / (s.high - s.low))).astype(np.int64), s.nbins - 1)
        self.counts += np.bincount(index, minlength=s.nbins)
        self.entries += int(v.size)
        self._sum += float(v.sum())
        self._sum2 += float(np.dot(v, v))

    @property
    def mean(self) -> float:
        """Mean of the counted values, NaN before the first."""
        return self._sum / self.entries if self.entries else float("nan")

    @property
    def std(self) -> float:
        """Standard deviation of the counted values, NaN before the first."""
        if not self.entries:
            return float("nan")
        return math.sqrt(max(self._sum2 / self.entries - self.mean**2, 0.0))

    def state(self) -> tuple[np.ndarray, int, float, float]:
        """A copy of counts, entries, mean and standard deviation, for the plot process."""
        return self.counts.copy(), self.entries, self.mean, self.std


class HistogramSet:
    """All histograms of one display, filled from element 0 of each event in batches.

    ``add`` is on the reader's per-event path, so it only copies element 0 of the slot (one record)
    into a batch; the batch is counted with numpy when it is full or a picture is due.
    """

    def __init__(self, specs: list[HistogramSpec]) -> None:
        self.histograms = [Histogram(s) for s in specs]
        self._rows: np.ndarray | None = None
        self._n = 0

    def add(self, data: np.ndarray) -> None:
        """Batch element 0 of one event; counted when the batch is full or a picture is due."""
        if self._rows is None:
            self._rows = np.zeros(BATCH, dtype=data.dtype)
        self._rows[self._n] = data[0]
        self._n += 1
        if self._n == BATCH:
            self.flush()

    def flush(self) -> None:
        """Count the batched events."""
        if self._rows is not None and self._n:
            for h in self.histograms:
                h.fill(self._rows[h.spec.field][: self._n])
            self._n = 0

    def state(self) -> list[tuple[np.ndarray, int, float, float]]:
        """The state of every histogram, batched events counted."""
        self.flush()
        return [h.state() for h in self.histograms]

    def summary(self) -> str:
        """One line per histogram with entries, mean and standard deviation, for the log."""
        self.flush()
        return "; ".join(
            f"{h.spec.field}: entries {h.entries}, mean {h.mean:.6g}, std {h.std:.6g}"
            for h in self.histograms
        )


class animHists:
    """The histogram picture on a matplotlib figure; call it with a ``HistogramSet.state()``."""

    def __init__(self, Hdescr: list[HistogramSpec], name: str = "Histograms", fig: Any = None) -> None:
        if fig is None:
            from .backend import agg_figure

            fig = agg_figure((8.0, 6.0), 100.0)
        self.fig, self.specs = fig, as_specs(Hdescr)
        fig.suptitle(name)
        n = max(1, len(self.specs))
        cols = 1 if n == 1 else 2 if n <= 4 else 3
        rows = math.ceil(n / cols)
        self.bars, self.texts = [], []
        for i, spec in enumerate(self.specs):
            ax = fig.add_subplot(rows, cols, i + 1)
            low, top = spec.ylim
            if spec.log:
                ax.set_yscale("log")
            ax.set_ylim(low, top)
            ax.set_xlim(spec.low, spec.high)
            ax.set_xlabel(spec.label or spec.field, fontsize="small")
            ax.set_ylabel("frequency", fontsize="small")
            ax.tick_params(labelsize="small")
            zero = np.zeros(spec.nbins)
            self.bars.append(ax.stairs(zero, spec.edges, fill=True, baseline=low, alpha=0.7))
            box = {"boxstyle": "round", "facecolor": "white", "alpha": 0.8}
            self.texts.append(
                ax.text(
                    0.97,
                    0.97,
                    "",
                    transform=ax.transAxes,
                    ha="right",
                    va="top",
                    bbox=box,
                    fontsize="small",
                    family="monospace",
                )
            )
        fig.tight_layout()

    def __call__(self, state: list[tuple[np.ndarray, int, float, float]]) -> list[Any]:
        for spec, bars, text, (counts, entries, mean, std) in zip(
            self.specs, self.bars, self.texts, state, strict=False
        ):
            low, _ = spec.ylim
            heights = counts / max(entries, 1)
            if spec.log:
                heights = np.maximum(heights, low)
            bars.set_data(heights)
            text.set_text(f"entries {entries}\nmean {mean:.4g}\nstd  {std:.4g}")
        return [*self.bars, *self.texts]


def plot_Histograms(
    Q: Any, Hdescripts: list[HistogramSpec], interval: float, name: str = "Histograms"
) -> None:
    """The plot process of the original's interface: shows the states put into ``Q`` until ``None``."""
    from .window import ViewSpec, plot_main

    plot_main(Q, ViewSpec(animHists, (Hdescripts, name), title=name, snapshot_interval=interval))


def check_histogram_config(config: Mapping[str, Any]) -> None:
    """The histogram config, for ``mimocorb validate`` before anything starts (ValueError).

    Whether the histogrammed fields exist in the buffer is only known when the worker starts.
    """
    owner = "histogram_buffer"
    _positive(config, "interval", 2.0, owner)
    _positive(config, "snapshot_interval", 10.0, owner)
    table = config.get("histograms") or {}
    parse_histograms(config, [str(name) for name in table] if isinstance(table, Mapping) else [], owner)


class histogram_buffer:
    """Live histograms of a buffer that this process reads as a consumer.

    ``histogram_buffer(source_list, sink_list, observe_list, config_dict, **rb_info)()`` counts every
    event, sends the totals to the plot process every ``interval`` seconds (dropped if it is busy), and
    at the end prints a summary (events, last counter, mean deadtime, entries/mean/std per histogram)
    and writes ``<directory_prefix>/<title>.png``, also when a window was shown or was closed.
    """

    def __init__(
        self,
        source_list: list[dict] | None = None,
        sink_list: list[dict] | None = None,
        observe_list: list[dict] | None = None,
        config_dict: dict | None = None,
        **rb_info: Any,
    ) -> None:
        from ..workers import rbExport
        from .backend import picture_name
        from .window import ViewSpec

        owner = type(self).__name__
        config = dict(config_dict or {})
        self.source = rbExport(source_list, config, **rb_info)
        dtype = self.source.source.dtype
        fields = [str(d[0]) for d in dtype] if isinstance(dtype, list) else list(np.dtype(dtype).names or ())
        self.title = str(config.get("title", "Histograms") or "Histograms")
        self.interval = _positive(config, "interval", 2.0, owner)
        self.specs = parse_histograms(config, fields, owner)
        self.histograms = HistogramSet(self.specs)
        self.events = 0
        self.last_counter = -1
        self._deadtime = 0.0
        folder = str(config.get("directory_prefix", "") or "")
        self.view = ViewSpec(
            animHists,
            (self.specs, self.title),
            title=self.title,
            picture=folder + picture_name(self.title, "histograms"),
            snapshot_interval=_positive(config, "snapshot_interval", 10.0, owner),
        )

    check_config = staticmethod(check_histogram_config)  # a user function may carry it too (see docs)

    def __call__(self) -> None:
        from .window import PlotLink, render_picture

        link = PlotLink(self.view) if self.specs else None
        next_update = time.monotonic() + min(self.interval, 0.5)
        metadata = None
        try:
            for item in self.source():
                if item is None:
                    break
                data, metadata = item
                self.events += 1
                self._deadtime += metadata[2]
                if link is not None:
                    self.histograms.add(data)
                    if time.monotonic() >= next_update:
                        link.offer(self.histograms.state())
                        next_update = time.monotonic() + self.interval
        finally:
            if link is not None:
                link.close()
        if metadata is not None:
            self.last_counter = int(metadata[0])
        self._report()
        if self.specs and self.view.picture:
            render_picture(self.view, self.histograms.state())

    def _report(self) -> None:
        deadtime = 100.0 * self._deadtime / self.events if self.events else 0.0
        print(
            f"{self.title}: {self.events} events received, last counter {self.last_counter}, "
            f"mean deadtime {deadtime:.2f}%"
        )
        if self.specs:
            print(f"{self.title}: {self.histograms.summary()}")


def _positive(config: Mapping[str, Any], key: str, default: float, owner: str) -> float:
    value = config.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{owner}: config key '{key}' must be a positive number of seconds, got {value!r}")
    return number

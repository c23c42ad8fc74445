"""Oscilloscope and histogram views of the dashboard, fed by observers in the server process.

A view is found from the setup's own display functions: a function whose config has ``sample_time_ns``
and that observes a buffer is an oscilloscope of that buffer (the config of ``plot_buffer``); one whose
config has a ``histograms`` table is a histogram view of the buffer it reads or observes (the config of
``histogram_buffer``). The server reads those buffers only through observers, which take copies of the
newest event without any lock, so the histograms of the page are filled from sampled events: their
shapes, means and widths are those of the full histograms, their entries are fewer.

Both kinds send a static ``layout`` once (axes, trigger, bin edges) and then small ``data`` messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..display.histograms import HistogramSet, parse_histograms
from ..display.scope import ScopeConfig

DIGITS = 3  # significant decimals of the values sent to the page


def find_views(
    functions: Iterable[tuple[str, Mapping[str, Any], Sequence[str], Sequence[str]]],
) -> list[dict]:
    """Views from ``(label, config_dict, observed buffers, read buffers)`` of each function of a setup."""
    views: list[dict] = []
    for label, config, observes, reads in functions:
        plain = {k: v for k, v in dict(config or {}).items() if k != "directory_prefix"}
        if "sample_time_ns" in plain and observes:
            kind, buffer = "scope", observes[0]
        elif isinstance(plain.get("histograms"), Mapping) and (reads or observes):
            kind, buffer = "histograms", (list(reads) + list(observes))[0]
        else:
            continue
        views.append(
            {"id": f"v{len(views)}", "kind": kind, "buffer": buffer, "function": label, "config": plain}
        )
    return views


def observed_buffers(views: Iterable[Mapping[str, Any]]) -> list[str]:
    """The buffers the server needs an observer of, in order, each once."""
    return list(dict.fromkeys(str(v["buffer"]) for v in views))


def _field_names(dtype: Any) -> list[str]:
    return list(np.dtype(dtype).names or ())


def _rounded(values: np.ndarray) -> list[float | None]:
    out = np.round(np.asarray(values, dtype=np.float64), DIGITS)
    return [None if not np.isfinite(v) else float(v) for v in out]


class ScopeView:
    """The oscilloscope: the waveforms of the newest observed event, thinned as ``plot_buffer`` draws them."""

    kind = "scope"

    def __init__(self, view: Mapping[str, Any], dtype: Any, values_per_slot: int) -> None:
        self.id = str(view["id"])
        self.buffer = str(view["buffer"])
        self.conf = ScopeConfig(view["config"], values_per_slot)
        self.names = _field_names(dtype)
        c = self.conf
        self.layout = {
            "id": self.id,
            "kind": self.kind,
            "buffer": self.buffer,
            "function": str(view.get("function", "")),
            "title": c.title or f"Waveforms of {self.buffer}",
            "x": _rounded(c.times()),
            "xlim": list(c.xlim),
            "ylim": list(c.ylim),
            "xlabel": f"time ({c.unit})",
            "ylabel": "voltage (mV)",
            "trigger": c.trigger,
            "names": self.names,
        }
        self._data: dict[str, Any] | None = None

    def add(self, data: np.ndarray, meta: np.ndarray) -> None:
        c = self.conf
        traces = {
            n: _rounded(np.asarray(data[n][:: c.step], dtype=np.float64) - c.offset_mv) for n in self.names
        }
        record = meta[0]
        self._data = {
            "id": self.id,
            "counter": int(record[0]),
            "timestamp": float(record[1]),
            "traces": traces,
        }

    def data(self) -> dict[str, Any] | None:
        """The newest picture, once; None if nothing new was observed."""
        out, self._data = self._data, None
        return out


class HistogramsView:
    """Live histograms of element 0 of the sampled events, with the bins of ``histogram_buffer``."""

    kind = "histograms"

    def __init__(self, view: Mapping[str, Any], dtype: Any, values_per_slot: int) -> None:
        self.id = str(view["id"])
        self.buffer = str(view["buffer"])
        config = view["config"]
        specs = parse_histograms(config, _field_names(dtype), "web dashboard")
        self.set = HistogramSet(specs)
        self.specs = specs
        self.layout = {
            "id": self.id,
            "kind": self.kind,
            "buffer": self.buffer,
            "function": str(view.get("function", "")),
            "title": str(config.get("title", "") or "Histograms"),
            "histograms": [
                {
                    "field": s.field,
                    "label": s.label,
                    "edges": _rounded(s.edges),
                    "ylim": list(s.ylim),
                    "log": s.log,
                }
                for s in specs
            ],
        }
        self._changed = False

    def add(self, data: np.ndarray, meta: np.ndarray) -> None:
        if self.specs:
            self.set.add(data)
            self._changed = True

    def data(self) -> dict[str, Any] | None:
        if not self._changed:
            return None
        self._changed = False
        out = []
        for counts, entries, mean, std in self.set.state():
            out.append(
                {
                    "counts": [int(n) for n in counts],
                    "entries": int(entries),
                    "mean": float(mean) if entries else None,
                    "std": float(std) if entries else None,
                }
            )
        return {"id": self.id, "histograms": out}


def make_view(view: Mapping[str, Any], dtype: Any, values_per_slot: int) -> ScopeView | HistogramsView:
    kind = str(view["kind"])
    if kind == "scope":
        return ScopeView(view, dtype, values_per_slot)
    if kind == "histograms":
        return HistogramsView(view, dtype, values_per_slot)
    raise ValueError(f"unknown view kind {kind!r}")

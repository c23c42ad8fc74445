"""The oscilloscope: waveforms of observed events, drawn like a digital scope shows them.

Config keys (all optional except ``sample_time_ns``): ``title``, ``min_sleeptime`` (s between two
pictures, 1.0), ``sample_time_ns``, ``channel_range`` (mV, 500), ``analogue_offset`` (V, 0),
``trigger_level`` (mV including the offset), ``trigger_channel``, ``trigger_direction``,
``pre_trigger_samples`` (0), and mimocorb's own ``time_unit`` (``ns`` or ``us``; default: µs when the
trace is longer than 50 µs) and ``snapshot_interval`` (s between PNG snapshots without a display, 10).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

MAX_POINTS = 250  # per trace: every (N // 250 + 1)-th sample, as the original drew them
US_ABOVE_NS = 50_000.0


class ScopeConfig:
    """The scope's settings, checked once, with errors that name the key."""

    def __init__(self, conf: Mapping[str, Any] | None, values_per_slot: int) -> None:
        conf = dict(conf or {})
        if "sample_time_ns" not in conf:
            raise ValueError(
                "plot_buffer: the config needs 'sample_time_ns' (the time between two samples in ns)"
            )
        self.title = str(conf.get("title", "") or "")
        self.dt = _number(conf, "sample_time_ns", None, positive=True)
        self.channel_range = _number(conf, "channel_range", 500.0, positive=True)
        self.offset_mv = 1000.0 * _number(conf, "analogue_offset", 0.0)
        level = conf.get("trigger_level")
        self.trigger = None if level is None else _number(conf, "trigger_level", 0.0) - self.offset_mv
        self.trigger_channel = str(conf.get("trigger_channel", "") or "")
        self.trigger_direction = str(conf.get("trigger_direction", "") or "")
        self.pre = int(_number(conf, "pre_trigger_samples", 0.0))
        self.n = int(values_per_slot)
        unit = conf.get("time_unit")
        if unit is None:
            unit = "us" if self.n * self.dt > US_ABOVE_NS else "ns"
        if unit not in ("ns", "us", "µs"):
            raise ValueError(f"plot_buffer: 'time_unit' must be 'ns' or 'us', got {unit!r}")
        self.unit, self.scale = ("ns", 1.0) if unit == "ns" else ("µs", 1e-3)
        self.step = self.n // MAX_POINTS + 1

    @property
    def xlim(self) -> tuple[float, float]:
        """The time axis range, in the display's time unit."""
        return (-self.pre * self.dt * self.scale, (self.n - self.pre) * self.dt * self.scale)

    @property
    def ylim(self) -> tuple[float, float]:
        """The voltage axis range in mV, shifted by the offset."""
        return (-self.channel_range - self.offset_mv, self.channel_range - self.offset_mv)

    def times(self) -> np.ndarray:
        """The times of the drawn samples (every ``step``-th), in the display's time unit."""
        return (np.arange(0, self.n, self.step) - self.pre) * self.dt * self.scale


def _number(conf: Mapping[str, Any], key: str, default: float | None, positive: bool = False) -> float:
    value = conf.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"plot_buffer: config key '{key}' must be a number, got {value!r}") from None
    if not math.isfinite(number) or (positive and number <= 0):
        what = "a positive number" if positive else "a finite number"
        raise ValueError(f"plot_buffer: config key '{key}' must be {what}, got {value!r}")
    return number


def check_scope_config(conf: Mapping[str, Any]) -> None:
    """The scope's config keys, for ``mimocorb validate`` before anything starts (ValueError).

    The buffer is not known there; what depends on it (the automatic time unit) is settled at start.
    """
    ScopeConfig(conf, 1)
    _number(conf, "snapshot_interval", 10.0, positive=True)


class animWaveformPlotter:
    """The scope picture on a matplotlib figure; call it with ``(data, mdata)`` to show an event."""

    def __init__(
        self,
        conf_dict: Mapping[str, Any] | None = None,
        dtypes: Any = None,
        source_dict: Mapping[str, Any] | None = None,
        fig: Any = None,
    ) -> None:
        source_dict = source_dict or {}
        self.names = _field_names(dtypes)
        self.conf = ScopeConfig(conf_dict, int(source_dict.get("values_per_slot", 1)))
        if fig is None:
            from .backend import agg_figure

            fig = agg_figure((8.0, 6.0), 100.0)
        self.fig = fig
        self._last: tuple[float, float] | None = None
        self._build()

    def _build(self) -> None:
        c = self.conf
        ax = self.fig.add_subplot(1, 1, 1)
        self.ax = ax
        if c.title:
            self.fig.suptitle(c.title)
        ax.set_xlim(*c.xlim)
        ax.set_ylim(*c.ylim)
        ax.set_xlabel(f"time ({c.unit})")
        ax.set_ylabel("voltage (mV)")
        ax.grid(True, color="grey", alpha=0.3)
        t = c.times()
        nan = np.full(t.shape, np.nan)
        self.lines = [ax.plot(t, nan, label=name, lw=1.0)[0] for name in self.names]
        if self.lines:
            ax.legend(loc="upper right", fontsize="small")
        self.trigger_line = None
        if c.trigger is not None:
            self.trigger_line = ax.axhline(c.trigger, color="darkred", ls="--", lw=0.8)
            text = " ".join(x for x in ("Trigger", c.trigger_channel, c.trigger_direction) if x)
            ax.text(0.02, 0.93, f"{text}: {c.trigger:.0f} mV", transform=ax.transAxes, color="darkred")
        self.zero_line = ax.axvline(0.0, color="grey", ls=":", lw=1.0) if c.pre > 0 else None
        self.counter_text = ax.text(0.70, 0.03, "", transform=ax.transAxes)

    def __call__(self, data: np.ndarray, mdata: Any = None) -> list[Any]:
        c = self.conf
        for name, line in zip(self.names, self.lines, strict=False):
            line.set_ydata(np.asarray(data[name][:: c.step], dtype=np.float64) - c.offset_mv)
        if mdata is not None:
            self.counter_text.set_text(self._counter_text(mdata))
        return [*self.lines, self.counter_text]

    def _counter_text(self, mdata: Any) -> str:
        record = mdata[0] if np.ndim(mdata) and np.asarray(mdata).dtype.names else mdata
        counter, stamp = int(record[0]), float(record[1])
        rate = ""
        if self._last is not None and stamp > self._last[1] and counter > self._last[0]:
            rate = f" - {(counter - self._last[0]) / (stamp - self._last[1]):.3g} Hz"
        self._last = (counter, stamp)
        return f"# {counter}{rate}"


def _field_names(dtypes: Any) -> list[str]:
    """Field names of a buffer dtype (list of tuples or numpy dtype); none for a plain buffer."""
    if dtypes is None:
        return []
    if isinstance(dtypes, list):
        return [str(d[0]) for d in dtypes]
    return list(np.dtype(dtypes).names or ())


def scope_view(conf: dict, dtypes: Any, source_dict: dict, fig: Any) -> Any:
    """The view of the plot process: takes ``(data, mdata)`` items."""
    plotter = animWaveformPlotter(conf, dtypes, source_dict, fig)
    return lambda item: plotter(*item)


class plot_buffer:
    """Oscilloscope display of an observed buffer, as the example modules use it.

    ``plot_buffer(source_list, sink_list, observe_list, config_dict, **rb_info)()`` takes a copy of the
    newest event at most every ``min_sleeptime`` seconds (the observer itself waits, so nothing polls
    faster) and hands it to the plot process. At the end of the run it writes the last event as
    ``<directory_prefix>/<title>.png`` and ends with ``SystemExit`` (exit code 0).
    """

    def __init__(
        self,
        source_list: list[dict] | None = None,
        sink_list: list[dict] | None = None,
        observe_list: list[dict] | None = None,
        config_dict: dict | None = None,
        **rb_info: Any,
    ) -> None:
        from ..workers import rbWSObserver
        from .backend import picture_name
        from .window import ViewSpec

        config = dict(config_dict or {})
        config.setdefault("min_sleeptime", 1.0)
        self.data_reader = rbWSObserver(observe_list, config, **rb_info)
        self.min_sleeptime = self.data_reader.min_sleeptime
        self.source_dict = dict(observe_list[0]) if observe_list else {}
        dtypes = self.source_dict.get("dtype")
        ScopeConfig(config, int(self.source_dict.get("values_per_slot", 1)))  # bad keys fail here
        self.active_event: tuple[np.ndarray, np.ndarray] | None = None
        title = str(config.get("title", "") or "")
        folder = str(config.get("directory_prefix", "") or "")
        plain = {k: v for k, v in config.items() if k != "directory_prefix"}
        self.view = ViewSpec(
            scope_view,
            (plain, dtypes, {"values_per_slot": self.source_dict.get("values_per_slot", 1)}),
            title=title or "Waveforms",
            picture=folder + picture_name(title, "waveforms"),
            snapshot_interval=_number(config, "snapshot_interval", 10.0, positive=True),
        )
        self.osciplot: Any = None

    check_config = staticmethod(check_scope_config)  # a user function may carry it too (see docs)

    def __call__(self) -> None:
        from .window import PlotLink, render_picture

        self.osciplot = PlotLink(self.view)
        try:
            for item in self.data_reader():
                if item is None:
                    break
                self.active_event = item
                self.osciplot.offer(item)
        finally:
            self.osciplot.close()
        if self.active_event is not None and self.view.picture:
            render_picture(self.view, self.active_event)
        raise SystemExit(0)

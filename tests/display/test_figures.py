"""The figures themselves, drawn with Agg in the test process: axes, lines and numbers as configured."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import numpy as np
import pytest
from displaykit import assert_picture, headless_env
from support import poll_until, run_python

from mimocorb.display.backend import agg_figure, picture_name, save_png
from mimocorb.display.histograms import Histogram, HistogramSet, HistogramSpec, animHists, parse_histograms
from mimocorb.display.monitor import button_centre, plot_bufferinfo, status_lines
from mimocorb.display.scope import animWaveformPlotter
from mimocorb.run.gui import RATES_INTERVAL, RatesPicture

DTYPES = [("chA", np.float32), ("chB", np.float32)]
SCOPE = {
    "title": "Muon waveform",
    "sample_time_ns": 4,
    "pre_trigger_samples": 500,
    "analogue_offset": -0.48,
    "trigger_level": -440,
    "channel_range": 500,
    "trigger_channel": "A",
    "trigger_direction": "rising",
}


def _event(n: int, value: float) -> np.ndarray:
    data = np.zeros(n, dtype=DTYPES)
    data["chA"] = value
    data["chB"] = value + 100.0
    return data


def _meta(counter: int, stamp: float) -> np.ndarray:
    return np.array(
        [(counter, stamp, 0.0)], dtype=[("counter", "i8"), ("timestamp", "f8"), ("deadtime", "f8")]
    )


def test_scope_axes_follow_the_muon_example():
    """4250 samples of 4 ns, 500 before the trigger, offset -0.48 V (the example's oscilloscope)."""
    plot = animWaveformPlotter(SCOPE, DTYPES, {"values_per_slot": 4250}, agg_figure((8, 6), 100))
    assert plot.ax.get_xlim() == pytest.approx((-2000.0, 15000.0))
    assert plot.ax.get_ylim() == pytest.approx((-20.0, 980.0))
    assert plot.trigger_line.get_ydata()[0] == pytest.approx(40.0)
    assert plot.zero_line.get_xdata()[0] == 0.0
    plot(_event(4250, -480.0), _meta(7, 100.0))  # the baseline of the raw data is 1000 * offset
    line_a, line_b = plot.lines
    assert len(line_a.get_xdata()) == len(range(0, 4250, 18))  # every 18th sample
    assert np.allclose(line_a.get_ydata(), 0.0) and np.allclose(line_b.get_ydata(), 100.0)
    assert plot.counter_text.get_text() == "# 7"
    plot(_event(4250, -480.0), _meta(17, 100.1))
    assert plot.counter_text.get_text() == "# 17 - 100 Hz"
    assert "Trigger A rising: 40 mV" in [t.get_text() for t in plot.ax.texts]


def test_scope_switches_to_microseconds_for_long_traces():
    conf = {"sample_time_ns": 100, "pre_trigger_samples": 100}
    plot = animWaveformPlotter(conf, DTYPES, {"values_per_slot": 1000}, agg_figure((4, 3), 50))
    assert plot.ax.get_xlim() == pytest.approx((-10.0, 90.0))
    assert plot.ax.get_xlabel() == "time (µs)"
    assert plot.zero_line is not None and plot.trigger_line is None


@pytest.mark.parametrize(
    ("conf", "words"),
    [
        ({}, "'sample_time_ns'"),
        ({"sample_time_ns": "fast"}, "'sample_time_ns' must be a number"),
        ({"sample_time_ns": 4, "channel_range": -1}, "'channel_range' must be a positive"),
        ({"sample_time_ns": 4, "time_unit": "s"}, "'time_unit'"),
    ],
)
def test_scope_config_errors_name_the_key(conf, words):
    with pytest.raises(ValueError, match=words):
        animWaveformPlotter(conf, DTYPES, {"values_per_slot": 10}, agg_figure((4, 3), 50))


def test_histogram_counts_entries_mean_and_std_of_known_values():
    spec = HistogramSpec.parse("x", [0, 10, 5, 2, "x", 0])
    h = Histogram(spec)
    values = np.array([0.0, 1.9, 2.0, 5.5, 9.999, 10.0, -0.1, np.nan, 3.0])
    h.fill(values)
    inside = np.array([0.0, 1.9, 2.0, 5.5, 9.999, 3.0])  # [min, max): 10.0, -0.1 and NaN are out
    assert h.entries == 6
    assert list(h.counts) == list(np.histogram(inside, bins=spec.edges)[0]) == [2, 2, 1, 0, 1]
    assert h.mean == pytest.approx(inside.mean()) and h.std == pytest.approx(inside.std())


def test_histogram_set_takes_element_0_of_every_event_in_batches():
    specs = [
        HistogramSpec.parse("a", [0, 100, 10, 1, "a", 0]),
        HistogramSpec.parse("b", [0, 1, 4, 1, "b", 1]),
    ]
    hs = HistogramSet(specs)
    event = np.zeros(3, dtype=[("a", "f8"), ("b", "f8")])
    for i in range(1500):  # more than one batch
        event["a"] = [i % 100, -1, -1]
        event["b"] = 0.25
        hs.add(event)
    (counts_a, n_a, mean_a, _), (counts_b, n_b, mean_b, std_b) = hs.state()
    assert n_a == 1500 and counts_a.sum() == 1500 and mean_a == pytest.approx(np.mean(np.arange(1500) % 100))
    assert n_b == 1500 and list(counts_b) == [0, 1500, 0, 0] and mean_b == 0.25 and std_b == 0.0
    assert "a: entries 1500, mean 49.5" in hs.summary()


def test_histogram_picture_bars_are_normalised_and_ranges_as_configured():
    specs = [
        HistogramSpec.parse("decay_time", [0, 15000, 75, 9.9, "Tau (ns)", 1]),
        HistogramSpec.parse("1st_chA_h", [0, 1000, 75, 9.9, "height", 0]),
    ]
    hs = HistogramSet(specs)
    rng = np.random.default_rng(3)
    event = np.zeros(1, dtype=[("decay_time", "f8"), ("1st_chA_h", "f8")])
    for t, h in zip(rng.exponential(2197.0, 3000), rng.normal(256, 72, 3000), strict=True):
        event["decay_time"], event["1st_chA_h"] = t, h
        hs.add(event)
    fig = agg_figure((8, 6), 100)
    view = animHists(specs, "Lifetime histogram", fig)
    state = hs.state()
    view(state)
    log_ax, lin_ax = fig.axes
    assert log_ax.get_yscale() == "log" and log_ax.get_ylim() == pytest.approx((1e-3 * 9.9 / 75, 9.9 / 75))
    assert lin_ax.get_yscale() == "linear" and lin_ax.get_ylim() == pytest.approx((0.0, 9.9 / 75))
    heights = view.bars[1].get_data().values
    counts, entries, mean, std = state[1]
    assert heights.sum() == pytest.approx(1.0) and heights == pytest.approx(counts / entries)
    assert view.texts[1].get_text().splitlines()[0] == f"entries {entries}"
    assert mean == pytest.approx(256, abs=6) and std == pytest.approx(72, abs=6)


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ([0, 10, 5, 2, "x"], "must be a list"),
        ([10, 0, 5, 2, "x", 0], "min must be below max"),
        ([0, 10, 2.5, 2, "x", 0], "nbins must be a positive integer"),
        ([0, 10, 5, 2, "x", "log"], "scale must be 0"),
        (["a", 10, 5, 2, "x", 0], "with numbers"),
    ],
)
def test_histogram_config_errors_name_the_key(entry, words):
    with pytest.raises(ValueError, match=rf"histograms: x'.*{words}"):
        HistogramSpec.parse("x", entry)


def test_unknown_histogram_field_makes_no_histograms(capsys):
    config = {"histograms": {"x": [0, 1, 2, 1, "x", 0], "nope": [0, 1, 2, 1, "n", 0]}}
    assert parse_histograms(config, ["x", "y"], "histogram_buffer") == []
    assert "nope not among the buffer's fields ['x', 'y']" in capsys.readouterr().out


def test_monitor_rate_history_and_status_text():
    q: multiprocessing.queues.Queue = multiprocessing.get_context("fork").Queue()
    figure = plot_bufferinfo(q, ["RB_1", "RB_2"], 4500.0, 1000.0, fig=agg_figure((6, 4), 100))
    assert figure.ax.get_yscale() == "log" and figure.ax.get_ylim() == pytest.approx((0.01, 4500.0))
    assert figure.ax.get_xlim() == pytest.approx((-179.0, 0.0))
    info = ("running", 12.5, 3000, 0.0123, {"RB_1": [3000, 5, 250.0], "RB_2": [300, 0, 25.0]}, True)
    q.put(info)
    poll_until(figure, 5, interval=0.01)
    assert figure.latest == info
    assert figure.lines["RB_1"].get_ydata()[-1] == 250.0 and figure.lines["RB_2"].get_ydata()[-1] == 25.0
    text = status_lines(info, ["RB_1", "RB_2"])
    assert "running" in text and "12.5 s" in text and "1.23 %" in text and "workers  √" in text
    assert "!!!" in status_lines((*info[:5], False), ["RB_1"])
    q.put((*info[:4], {"RB_1": [1, 1, 9000.0], "RB_2": [1, 1, 1.0]}, True))  # above maxRate: axis grows
    poll_until(figure, 5, interval=0.01)
    assert figure.ax.get_ylim()[1] >= 9000.0
    q.close()
    q.join_thread()
    assert button_centre("Pause")[0] < button_centre("Resume")[0] < button_centre("EndRun")[0]


def test_rates_picture_from_stats_csv(tmp_path: Path):
    stats = tmp_path / "stats.csv"
    rows = ["time_s,active_s,state,buffer,events,rate_hz,fill,slots,deadtime,lost"]
    for t in range(20):
        rows.append(f"{t}.0,{t}.0,running,RB_1,{t * 100},100.0,{t % 8},8,0.01,0")
        rows.append(f"{t}.0,{t}.0,running,RB_2,{t * 10},10.0,0,8,0.0,0")
    rows.append("20.0,20.0,ended,RB_1,2000,100.0,0,8,0.01,0")
    stats.write_text("\n".join(rows) + "\n")
    rates = RatesPicture(stats, tmp_path / "rates.png")
    rates.snapshot(time.monotonic())  # too early: nothing happens
    assert rates.process is None
    rates.snapshot(time.monotonic() + RATES_INTERVAL)  # a periodic snapshot, not waited for
    assert rates.process is not None and rates.process.wait(60) == 0
    assert_picture(tmp_path / "rates.png", (1000, 600))
    (tmp_path / "rates.png").unlink()
    assert rates.final() is None
    assert_picture(tmp_path / "rates.png", (1000, 600))
    stats.unlink()
    assert "stats.csv" in (rates.final() or "")


def test_pictures_are_replaced_atomically_and_named_after_titles(tmp_path: Path):
    fig = agg_figure((2, 1), 50)
    fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])
    save_png(fig, str(tmp_path / "a.png"))
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    assert picture_name("histograms upward decay", "x") == "histograms_upward_decay.png"
    assert picture_name("  / ", "waveforms") == "waveforms.png"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "Agg"),  # no DISPLAY
        ({"DISPLAY": ":9999"}, "Agg"),  # a display that is not there
        ({"DISPLAY": ":1", "MIMOCORB_HEADLESS": "1"}, "Agg"),
    ],
)
def test_backend_is_agg_without_a_usable_display(env, expected):
    code = (
        "import matplotlib; matplotlib.use('TkAgg')\n"  # what the 1.0.2 example modules do
        "from mimocorb.display.backend import select_backend\n"
        "print(select_backend(), matplotlib.get_backend())\n"
    )
    full = headless_env()
    full.pop("MIMOCORB_HEADLESS", None)
    full.update(env)
    out = run_python(code, env=full)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [expected, expected]


@pytest.mark.display
def test_backend_is_tkagg_with_a_display(xserver):
    code = "from mimocorb.display.backend import select_backend\nprint(select_backend())\n"
    out = run_python(code, env=xserver.env())
    assert out.stdout.strip() == "TkAgg", out.stderr


def test_display_modules_import_no_graphics_library():
    code = (
        "import sys\n"
        "import mimocorb.plot_buffer, mimocorb.histogram_buffer, mimocorb.bufferinfoGUI\n"
        "from mimocorb.plot_buffer import plot_buffer\n"
        "from mimocorb.histogram_buffer import histogram_buffer\n"
        "from mimocorb.bufferinfoGUI import bufferinfoGUI\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'tkinter')]\n"
        "assert not bad, bad\n"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr


def test_histogram_picture_takes_the_originals_plain_descriptions():
    view = animHists([[0, 1, 4, 1, "a", 0], [1, 100, 3, 1, "b", 1]], fig=agg_figure((4, 3), 50))
    view([(np.array([1, 1, 0, 0]), 2, 0.2, 0.1), (np.array([0, 4, 0]), 4, 50.0, 0.0)])
    assert [s.label for s in view.specs] == ["a", "b"] and view.specs[1].log
    assert view.bars[0].get_data().values == pytest.approx([0.5, 0.5, 0, 0])
    assert view.texts[1].get_text().startswith("entries 4\nmean 50")

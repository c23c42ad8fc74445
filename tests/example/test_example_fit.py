"""The unbinned lifetime fit on synthetic data of known lifetime, and the run summary from real files."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from examplekit import EXAMPLES

from mimocorb.physics.lifetime import fit_lifetime, truncated_mean, truncated_variance
from mimocorb.physics.summary import SUMMARY_FILE, SelectionCounter, summarize_run
from mimocorb.physics.summary import main as summary_main


def truncated_exponential(
    rng: np.random.Generator, tau: float, t_min: float, t_max: float, n: int
) -> np.ndarray:
    """Inverse-CDF samples of an exponential restricted to [t_min, t_max)."""
    u = rng.random(n)
    return t_min - tau * np.log1p(-u * (1 - math.exp(-(t_max - t_min) / tau)))


def test_fit_recovers_the_lifetime_with_the_right_error() -> None:
    rng = np.random.default_rng(7)
    pulls = []
    for _ in range(300):
        t = truncated_exponential(rng, 2197.0, 200.0, 15000.0, 1000)
        fit = fit_lifetime(t, 200.0, 15000.0)
        pulls.append((fit.tau - 2197.0) / fit.error)
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 0.2 and abs(pulls.std() - 1) < 0.15  # unbiased, error estimate right
    fit = fit_lifetime(truncated_exponential(rng, 2197.0, 200.0, 15000.0, 10_000), 200.0, 15000.0)
    assert abs(fit.tau - 2197.0) < 3 * fit.error and 20 < fit.error < 24  # ≈ τ/√N, a bit more (truncation)


def test_fit_ignores_times_outside_the_window_and_the_dead_zone_matters() -> None:
    rng = np.random.default_rng(8)
    t = rng.exponential(2197.0, 50_000)
    fit = fit_lifetime(np.concatenate([t, [-5.0, 1e6]]), 200.0, 15000.0)
    assert fit.n_used == ((t >= 200) & (t < 15000)).sum()
    assert abs(fit.tau - 2197.0) < 3 * fit.error
    depleted = t[(t > 200) | (rng.random(len(t)) < 0.5)]  # half the decays below 200 ns lost
    assert fit_lifetime(depleted, 0.0, 15000.0).tau > 2197.0 + 3 * fit.error  # why the fit starts at 200 ns


def test_fit_edge_cases() -> None:
    assert math.isnan(fit_lifetime(np.array([]), 200, 15000).tau)
    assert math.isnan(fit_lifetime(np.array([14000.0, 14500.0]), 200, 15000).tau)  # rising: no finite τ
    with pytest.raises(ValueError, match="fit window"):
        fit_lifetime(np.array([1.0]), 500, 100)
    assert truncated_mean(1e-3, 200, 15000) == pytest.approx(200, abs=1e-2)
    assert truncated_variance(1e9, 0, 1200) == pytest.approx(1200**2 / 12, rel=1e-4)  # flat limit


def test_run_summary_from_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    decays = np.floor(truncated_exponential(rng, 2197.0, 0.0, 14600.0, 2000))
    header = "event id\ttime of event (UTC)\tdead time\tdecay time (ns)\t1st_chA_h"
    lines = [f"{k + 1}\t1795579957.06\t0.01\t{int(d)}\t250.5" for k, d in enumerate(decays)]
    (tmp_path / "muon_lifetime.txt").write_text("\n".join([header, *lines]) + "\n")
    for seen, accepted in ((12_000, 980), (13_000, 1020)):
        counter = SelectionCounter(tmp_path)
        counter.path = tmp_path / f"selection_{seen}.json"
        for k in range(seen):
            counter.count(k < accepted)
        counter.save()
    aliases = {"counter": "event id", "decay_time": "decay time (ns)"}
    summary = summarize_run(tmp_path, "muon_lifetime", aliases, (200, 15000))
    assert summary == json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert summary["events"] == 25_000 and summary["accepted_double_pulses"] == 2000
    assert summary["accepted_fraction"] == pytest.approx(0.08)
    assert abs(summary["lifetime_ns"] - 2197) < 3 * summary["lifetime_error_ns"]
    assert (tmp_path / "lifetime_fit.png").read_bytes()[:4] == b"\x89PNG"


def test_run_summary_without_events(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("counter\ttimestamp\tdeadtime\tdecay_time\n")
    summary = summarize_run(tmp_path, "out")
    assert summary["events"] is None and summary["accepted_double_pulses"] == 0
    assert summary["lifetime_ns"] is None and "NaN" not in (tmp_path / SUMMARY_FILE).read_text()


def test_summary_recomputed_from_a_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``python -m mimocorb.physics.summary RUN_DIR`` with the run's copy of save_lifetime.yaml."""
    shutil.copy(EXAMPLES / "config" / "save_lifetime.yaml", tmp_path)
    header = "event id\ttime of event (UTC)\tdead time\tdecay time (ns)"
    decays = truncated_exponential(np.random.default_rng(10), 2197.0, 0.0, 14600.0, 500)
    rows = [f"{k}\t1.0\t0.0\t{int(d)}" for k, d in enumerate(decays, 1)]
    (tmp_path / "muon_lifetime.txt").write_text("\n".join([header, *rows]) + "\n")
    assert summary_main([str(tmp_path)]) == 0
    assert "accepted double pulses  500" in capsys.readouterr().out
    assert json.loads((tmp_path / SUMMARY_FILE).read_text())["events"] is None  # no filter counts here


def test_spin_asymmetry_fit() -> None:
    """Synthetic up/down decays with a(t) = 0.03·cos(2πt/1867 ns), as the simulator makes them."""
    from mimocorb.physics.simulation import SPIN_ASYMMETRY, SPIN_PERIOD_NS
    from mimocorb.physics.spin import fit_asymmetry

    rng = np.random.default_rng(11)
    t = rng.exponential(2197.0, 400_000)
    up = rng.random(len(t)) < 0.5 * (1 + SPIN_ASYMMETRY * np.cos(2 * np.pi * t / SPIN_PERIOD_NS))
    fit = fit_asymmetry(t[up], t[~up])
    assert abs(fit.cosine - SPIN_ASYMMETRY) < 3 * fit.cosine_error and fit.cosine_error < 0.005
    assert abs(fit.offset) < 3 * fit.offset_error and abs(fit.sine) < 3 * fit.sine_error
    flat = fit_asymmetry(t[rng.random(len(t)) < 0.5], t[rng.random(len(t)) < 0.5])
    assert abs(flat.cosine) < 3 * flat.cosine_error
    with pytest.raises(ValueError, match="at least 4 decays"):
        fit_asymmetry(np.array([300.0]), np.array([]))

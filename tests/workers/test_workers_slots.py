"""Waveform-sized slots (kilobytes, as in the examples) through rbImport, rbTransfer and rbExport.

Guards against slots overlapping their neighbours: an early ring placed the data of slot i at
``i * 64`` bytes in attached handles, which small-slot tests cannot notice.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from workers_helpers import shutdown_in_background

from mimocorb.workers import rbExport, rbImport, rbTransfer

WAVES = [("ch1", np.float64), ("ch2", np.float64), ("ch3", np.float64), ("ch4", np.float64)]
SAMPLES = 250  # 8 kB per slot


@pytest.mark.timeout(60)
def test_waveforms_arrive_intact(make_buffer):
    rb1 = make_buffer(8, SAMPLES, WAVES, name="RB_1")
    rb2 = make_buffer(8, SAMPLES, WAVES, name="RB_2")
    g1, g2 = rb1.new_reader_group(), rb2.new_reader_group()
    n_events = 20

    def waves():
        for k in range(1, n_events + 1):
            yield np.full((4, SAMPLES), float(k)), None

    source = rbImport([rb1.new_writer()], {}, waves, RB_1="write")
    filt = rbTransfer([g1], [rb2.new_writer()], {}, lambda e: 1, RB_1="read", RB_2="write")
    export = rbExport([g2], {}, RB_2="read")
    threads = [threading.Thread(target=source), threading.Thread(target=filt)]
    for t in threads:
        t.start()
    got = []
    try:
        for _ in range(n_events):
            data, meta = next(export())
            got.append((int(meta[0]), {float(v) for name in data.dtype.names for v in data[name]}))
    finally:
        threads[0].join(10)
        shutdown_in_background(rb1).join(15)
        threads[1].join(10)
        stopper = shutdown_in_background(rb2)
        assert next(export()) is None
        stopper.join(15)
    assert got == [(k, {float(k)}) for k in range(1, n_events + 1)]

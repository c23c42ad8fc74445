"""Workers of the alarm tests: a source that goes quiet while a flag file exists, a sink that counts."""

import json
import os
import time

import numpy as np

from mimocorb import mimo_buffer as bm
from mimocorb.buffer_control import rbImport


def switched_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Events 1, 2, 3, ... every ``sleep`` s, none while the file ``quiet`` (config) exists."""
    config = config_dict or {}
    quiet = config["quiet"]
    sleep = float(config.get("sleep", 0.01))

    def generate():
        n = 0
        while True:
            time.sleep(sleep)
            if os.path.exists(quiet):
                continue
            n += 1
            yield [np.int64(n)], None

    rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=generate, **rb_info)()


def counting_sink(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Reads until the end, ``sleep`` s per event (config, default 0); writes the number of events it read
    to ``count_file`` (config)."""
    reader = bm.Reader(source_list[0])
    sleep = float((config_dict or {}).get("sleep", 0.0))
    count = 0
    try:
        while True:
            reader.get()
            count += 1
            time.sleep(sleep)
    finally:
        with open((config_dict or {})["count_file"], "w") as f:
            json.dump(count, f)


def heavy_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Waveforms of random numbers (they do not compress): a recorder of them fills a disk quickly."""
    setup = sink_list[0]
    sleep = float((config_dict or {}).get("sleep", 0.005))
    rng = np.random.default_rng(7)

    def generate():
        while True:
            time.sleep(sleep)
            yield [rng.random(setup["values_per_slot"])], None

    rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=generate, **rb_info)()


def failing_sink(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Fails after 20 events in its first ``fail_times`` incarnations (marker files ``marks``*), then
    reads until the end."""
    config = config_dict or {}
    incarnation = len([p for p in os.listdir(os.path.dirname(config["marks"])) if p.startswith("mark")])
    reader = bm.Reader(source_list[0])
    if incarnation < int(config["fail_times"]):
        with open(f"{config['marks']}{incarnation}", "w"):
            pass
        for _ in range(20):
            reader.get()
        raise RuntimeError(f"failing on purpose, incarnation {incarnation}")
    while True:
        reader.get()

"""Sinks for the run-controller tests: they record every event value they saw, in the run directory."""

import json
import os
import time

from mimocorb import mimo_buffer as bm
from mimocorb.buffer_control import rbExport


def _record(config, name, values):
    prefix = (config or {}).get("directory_prefix")
    if prefix:
        path = os.path.join(prefix, f"seen_{name}_{os.getpid()}.json")
        with open(path, "w") as f:
            json.dump(values, f)


def counting_sink(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Reads until shutdown; writes seen_<tag>_<pid>.json with every value (tag from config, else fkt)."""
    reader = bm.Reader(source_list[0])
    values = []
    try:
        while True:
            values.append(int(reader.get()["value"][0]))
    finally:
        _record(config_dict, (config_dict or {}).get("tag", "counting_sink"), values)
        if (config_dict or {}).get("shell"):  # output that bypasses Python's sys.stdout
            os.system((config_dict or {})["shell"])


def export_sink(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """rbExport loop; records the counters from the metadata."""
    values = []
    for item in rbExport(source_list=source_list, config_dict=config_dict, **rb_info)():
        if item is None:
            break
        _data, meta = item
        values.append(int(meta[0]))
    _record(config_dict, (config_dict or {}).get("tag", "export_sink"), values)
    print(f"export_sink: {len(values)} events")


def observing(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """rbObserver loop: samples events until the end-of-run None, then says how many it saw."""
    from mimocorb.buffer_control import rbObserver

    n = 0
    for item in rbObserver(observe_list=observe_list, config_dict=config_dict, **rb_info)():
        if item is None:
            break
        n += 1
    print(f"observer: end of run seen after {n} samples")


def computing_sink(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Reads until shutdown, then computes for ``compute`` s (a final fit, a picture) before it exits;
    ``starved``: on the first processor, at the lowest priority (a busy process there leaves it a few
    per cent of the processor's time)."""
    reader = bm.Reader(source_list[0])
    try:
        while True:
            reader.get()
    except SystemExit:
        config = config_dict or {}
        if config.get("starved"):  # the lowest priority on the first processor: a busy machine
            os.sched_setaffinity(0, {0})
            os.nice(19)
        done = time.monotonic() + float(config.get("compute", 1.0))
        while time.monotonic() < done:
            sum(range(10_000))

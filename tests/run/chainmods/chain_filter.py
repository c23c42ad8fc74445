"""Filters for the run-controller tests: a raw Reader->Writer copy with random delays, and rbTransfer."""

import json
import os
import random
import time

from mimocorb import mimo_buffer as bm
from mimocorb.buffer_control import rbTransfer


def copy_filter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Copies every event of source 0 to every sink, sleeping ``sleep`` s plus up to ``max_sleep`` s at
    random per event; counts what it did."""
    config = config_dict or {}
    sleep, max_sleep = float(config.get("sleep", 0.0)), float(config.get("max_sleep", 0.0))
    if config.get("pidfile"):  # lets a test find (and kill) this process
        with open(os.path.join(config["directory_prefix"], f"pid_copy_filter_{os.getpid()}"), "w") as f:
            f.write(str(os.getpid()))
    reader = bm.Reader(source_list[0])
    writers = [bm.Writer(s) for s in sink_list]
    count = 0
    try:
        while True:
            data = reader.get()
            meta = reader.get_metadata()
            if sleep or max_sleep:
                time.sleep(sleep + random.uniform(0.0, max_sleep))
            for w in writers:
                out = w.get_new_buffer()
                out["value"] = data["value"]
                w.set_metadata(*meta)
                w.process_buffer()
            count += 1
    finally:
        _write_count(config, "copy_filter", count)


def _write_count(config, name, count):
    prefix = config.get("directory_prefix")
    if prefix:
        path = os.path.join(prefix, f"count_{name}_{os.getpid()}.json")
        with open(path, "w") as f:
            json.dump({"count": count}, f)


def _accept_all(data):
    return 1


def transfer_filter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """rbTransfer with a filter that accepts every event (raw copy to sink 0)."""
    rbTransfer(
        source_list=source_list, sink_list=sink_list, config_dict=config_dict, ufunc=_accept_all, **rb_info
    )()

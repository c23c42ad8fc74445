"""Worker functions of the series tests: simulated pulse heights, a threshold, and a counting sink."""

import json
import os
import random
import time

from mimocorb.ring import Reader, Writer


def pulse_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Pulse heights between 0 and 100, one per 'sleep' seconds, until the run ends."""
    sleep = float((config_dict or {}).get("sleep", 0.002))
    writer = Writer(sink_list[0])
    generator = random.Random(1)
    while True:  # slot() ends the worker with SystemExit when the run ends
        with writer.slot() as (data, _meta):
            data["height"] = generator.uniform(0.0, 100.0)
        time.sleep(sleep)


def threshold_filter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Passes on the pulses at or above 'threshold'; raises at the first pulse if 'fail' is true, and
    waits before each pulse while the file 'hold' exists (the run stays busy until it is removed)."""
    config = config_dict or {}
    threshold = float(config["threshold"])
    hold = config.get("hold") or ""
    writer = Writer(sink_list[0])
    for data in Reader(source_list[0]):
        if config.get("fail"):
            raise RuntimeError("this step fails on purpose")
        while hold and os.path.exists(hold):
            time.sleep(0.05)
        if data["height"][0] >= threshold:
            with writer.slot() as (out, _out_meta):
                out["height"] = data["height"]


def count_sink(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Counts what passed, and writes the count and the threshold it saw into the run directory."""
    config = config_dict or {}
    seen = sum(1 for _ in Reader(source_list[0]))
    path = os.path.join(config["directory_prefix"], "counted.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump({"passed": seen}, file)

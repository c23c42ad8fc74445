"""User functions for the process tests of mimocorb.workers.

They live at module level in a module with a name no other test directory uses, so that children started
with *spawn* can import them by name. Each has the signature the run controller calls user functions
with, takes its parameters from ``config_dict`` and reports through files (no queues: nothing in a child
may outlive it), including a marker written only if the access class returned normally.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np

from mimocorb.activity_logger import Gen_logger
from mimocorb.workers import rbDrain, rbExport, rbImport, rbTransfer

RECORD = [("n", np.int64), ("x", np.float64)]  # 16 bytes per value
RECORD_PLUS = [*RECORD, ("y", np.float32)]


def _start(config: dict) -> None:
    """Send this child's stderr to a file, so the test can tell a clean end from a traceback."""
    if "stderr_file" in config:
        sys.stderr = open(config["stderr_file"], "w", buffering=1, encoding="utf-8")  # noqa: SIM115


def _returned(config: dict) -> None:
    if "returned_file" in config:
        Path(config["returned_file"]).write_text("returned", encoding="utf-8")


def counting_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Events n = 1, 2, ... (x = n / 2), ``n_events`` of them or for ever if that is None."""
    _start(config_dict)
    n_events = config_dict.get("n_events")

    def events():
        n = 0
        while n_events is None or n < n_events:
            n += 1
            yield np.array([n, n / 2]), None

    rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=events, **rb_info)()
    _returned(config_dict)


def copying_filter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Raw copy of every event, after a random pause that shuffles the order between processes."""
    _start(config_dict)
    max_sleep = config_dict.get("max_sleep", 0.0)

    def keep(event):
        if max_sleep:
            time.sleep(random.random() * max_sleep)
        return 1

    rbTransfer(source_list, sink_list, config_dict, ufunc=keep, **rb_info)()
    _returned(config_dict)


def counting_exporter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Writes (metadata counter, field n) of every event it got to ``result_file`` as JSON."""
    _start(config_dict)
    seen = []
    for item in rbExport(source_list, config_dict, **rb_info)():
        if item is None:
            break
        data, metadata = item
        seen.append([int(metadata[0]), int(data["n"][0])])
    Path(config_dict["result_file"]).write_text(json.dumps(seen), encoding="utf-8")
    _returned(config_dict)


def draining_sink(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    _start(config_dict)
    rbDrain(source_list, config_dict, **rb_info)()
    _returned(config_dict)


def report_log_level(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """What level a logger made in a fresh child gets (spawn re-imports activity_logger)."""
    level = Gen_logger("workers_test_child").level
    Path(config_dict["result_file"]).write_text(logging.getLevelName(level), encoding="utf-8")

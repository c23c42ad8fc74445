"""Misbehaving workers for the supervision tests."""

import os
import signal
import time

from mimocorb import mimo_buffer as bm


def raising_filter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Passes events on, raises ValueError at event number fail_at."""
    fail_at = int((config_dict or {}).get("fail_at", 10))
    reader = bm.Reader(source_list[0])
    writer = bm.Writer(sink_list[0])
    n = 0
    while True:
        data = reader.get()
        n += 1
        if n == fail_at:
            raise ValueError(f"deliberate failure at event {n}")
        out = writer.get_new_buffer()
        out["value"] = data["value"]
        writer.process_buffer()


def hanging_sink(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Reads until shutdown, then ignores the SystemExit and sleeps for ever (and ignores SIGTERM)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    reader = bm.Reader(source_list[0])
    try:
        while True:
            reader.get()
    except SystemExit:
        print("hanging_sink: ignoring the end of the run")
    while True:
        time.sleep(1.0)


def suicidal_filter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Passes events on; SIGKILLs itself at event kill_at (while holding an event)."""
    kill_at = int((config_dict or {}).get("kill_at", 20))
    reader = bm.Reader(source_list[0])
    writer = bm.Writer(sink_list[0])
    n = 0
    while True:
        data = reader.get()
        n += 1
        if n == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        out = writer.get_new_buffer()
        out["value"] = data["value"]
        writer.process_buffer()


def flaky_filter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Fails at its fail_at-th event in the first incarnation only (marker file in the run directory)."""
    config = config_dict or {}
    marker = os.path.join(config["directory_prefix"], "flaky_failed_once")
    fail_at = int(config.get("fail_at", 5))
    reader = bm.Reader(source_list[0])
    writer = bm.Writer(sink_list[0])
    n = 0
    while True:
        data = reader.get()
        n += 1
        if n == fail_at and not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("flaky_filter fails once")
        out = writer.get_new_buffer()
        out["value"] = data["value"]
        writer.process_buffer()


def sleeper(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Connected to no buffer: sleeps until terminated."""
    while True:
        time.sleep(1.0)


def early_sink(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Reads ten events, then returns although the run goes on."""
    reader = bm.Reader(source_list[0])
    for _ in range(10):
        reader.get()


def stuck_filter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Passes stuck_at events on, then stops working (alive, holding an event) until terminated."""
    stuck_at = int((config_dict or {}).get("stuck_at", 20))
    reader = bm.Reader(source_list[0])
    writer = bm.Writer(sink_list[0])
    n = 0
    while True:
        data = reader.get()
        n += 1
        if n == stuck_at:
            while True:
                time.sleep(0.5)
        out = writer.get_new_buffer()
        out["value"] = data["value"]
        writer.process_buffer()

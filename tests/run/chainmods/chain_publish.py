"""Filters that publish user variables."""

import os

from mimocorb import mimo_buffer as bm
from mimocorb.run import publish


def publishing_filter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    reader = bm.Reader(source_list[0])
    writer = bm.Writer(sink_list[0])
    passed = 0
    while True:
        value = reader.get()["value"][0]
        slot = writer.get_new_buffer()
        slot["value"] = value
        writer.process_buffer()
        passed += 1
        publish("filter.accepted", passed)
        publish("temperature", 21.5)


def publishing_flaky_filter(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Publishes its pid with every event; fails at its fail_at-th event in the first incarnation only
    (marker file in the run directory), so that its restart publishes again."""
    config = config_dict or {}
    marker = os.path.join(config["directory_prefix"], "publisher_failed_once")
    fail_at = int(config.get("fail_at", 20))
    reader = bm.Reader(source_list[0])
    writer = bm.Writer(sink_list[0])
    n = 0
    while True:
        value = reader.get()["value"][0]
        n += 1
        publish("filter.pid", os.getpid())
        if n == fail_at and not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("publishing_flaky_filter fails once")
        slot = writer.get_new_buffer()
        slot["value"] = value
        writer.process_buffer()

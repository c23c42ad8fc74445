"""Worker functions of the web tests: a slow counting source and a sink that reads everything."""

import time

from mimocorb.ring import Reader, Writer


def tick_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Writes 1, 2, 3, ... into field 'value' of its sink, one event per 'sleep' seconds; prints the
    line 'say' (if given) every 50 events, so that a dashboard started after the workers sees it too."""
    config = config_dict or {}
    sleep = float(config.get("sleep", 0.005))
    say = config.get("say")
    writer = Writer(sink_list[0])
    n = 0
    while True:  # slot() ends the worker with SystemExit when the run ends
        n += 1
        if say and n % 50 == 1:
            print(say, flush=True)
        with writer.slot() as (data, _meta):
            data["value"] = n
        time.sleep(sleep)


def tick_sink(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Reads until the buffer ends, and says how many events it saw."""
    seen = sum(1 for _ in Reader(source_list[0]))
    print(f"tick_sink: {seen} events")

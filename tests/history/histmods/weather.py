"""Worker functions of the history tests: a simulated source that publishes user variables, and a sink."""

import time

from mimocorb.ring import Reader, Writer
from mimocorb.run import publish


def weather_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Writes 1, 2, 3, ... into its sink, one event per 'sleep' seconds, and publishes the 'temperature'
    of its config and the events it wrote as 'source.accepted'; writes nothing while the run is paused."""
    config = config_dict or {}
    sleep = float(config.get("sleep", 0.005))
    temperature = float(config["temperature"])
    writer = Writer(sink_list[0])
    n = 0
    while True:  # slot() ends the worker with SystemExit when the run ends
        if writer.paused.is_set() and writer.active.is_set():  # the end comes through slot()
            time.sleep(0.05)
            continue
        n += 1
        with writer.slot() as (data, _meta):
            data["value"] = n
        publish("temperature", temperature)
        publish("source.accepted", n)
        time.sleep(sleep)


def weather_sink(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    for _ in Reader(source_list[0]):
        pass

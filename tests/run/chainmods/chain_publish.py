"""A filter that publishes user variables: the events it passed on and a constant 'temperature'."""

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

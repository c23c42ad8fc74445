"""Worker functions of the recording tests: a deterministic source, a filter, and the exporters.

Every value of event ``k`` is a function of ``k`` (``waveform(k)``, ``record(k)``), so the tests can
check every value read back from a file without keeping a copy of what was sent.
"""

import time

import numpy as np

from mimocorb.buffer_control import rb_toParquetfile, rb_toTxtfile, rbImport, rbTransfer
from mimocorb.io import record_hdf5, record_parquet, record_root, replay  # noqa: F401 - fkt_name of the setups

WAVE = [("ch1", np.float32), ("ch2", np.int32), ("ch3", np.float64)]
RECORD = np.dtype([("amp", np.float32), ("pos", np.int32), ("area", np.float64)])


def waveform(k: int, n: int) -> list[np.ndarray]:
    i = np.arange(n)
    return [
        (np.sin(0.1 * i + k) * 100.0 / 3.0).astype(np.float32),
        (i * 7 - 3 * k).astype(np.int32),
        np.exp(-i / (k + 1.0)) * 1e3 / 7.0,
    ]


def record(k: int) -> np.ndarray:
    return np.array([(k / 3.0, -k * 11, k * np.pi * 1e6)], dtype=RECORD)


def source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """n_events (0 = no end) waveforms; ``sleep`` s between them."""
    n_events = int(config_dict.get("n_events", 0))
    sleep = float(config_dict.get("sleep", 0.0))
    n = sink_list[0]["values_per_slot"]

    def generate():
        k = 0
        while n_events == 0 or k < n_events:
            k += 1
            if sleep:
                time.sleep(sleep)
            yield waveform(k, n), None

    rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=generate, **rb_info)()


def to_record(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """One record per waveform, computed from the waveform's values (so it depends on what arrived)."""

    def compute(event):
        k = -int(event["ch2"][0]) // 3  # ch2[i] = 7 i - 3 k
        return [record(k)]

    rbTransfer(
        source_list=source_list, sink_list=sink_list, config_dict=config_dict, ufunc=compute, **rb_info
    )()


def save_txt(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    rb_toTxtfile(source_list=source_list, config_dict=config_dict, **rb_info)()


def save_tar(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    rb_toParquetfile(source_list=source_list, config_dict=config_dict, **rb_info)()


def collect(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Writes every event it reads (metadata and values) to an .npz file, for comparing replays."""
    from mimocorb.buffer_control import rbExport

    meta, values = [], []
    for item in rbExport(source_list=source_list, config_dict=config_dict, **rb_info)():
        if item is None:
            break
        data, md = item
        meta.append(md.copy())
        values.append(data.copy())
    np.savez(
        config_dict["directory_prefix"] + config_dict.get("name", "collected") + ".npz",
        meta=np.array(meta).reshape(-1, 3),
        values=np.array(values),
    )


def disk_limit_recorder(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """The recorder in a process that may write only ``limit`` bytes per file (a full disk, in effect)."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
    limit = int(config_dict["limit"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    record_parquet(source_list, sink_list, observe_list, config_dict, **rb_info)

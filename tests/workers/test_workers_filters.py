"""rbTransfer and rbProcess: every return-value rule of the 1.0.2 interface, on real buffers.

Sink slots are dirtied first (filled with 99 once), so "zero-filled" is really observed and not just the
fresh buffer's zeros. Slots here are at most 32 bytes (see test_workers_slots.py for why).
"""

from __future__ import annotations

import numpy as np
import pytest
from workers_helpers import collect, dirty, run_until_shutdown, write_events

from mimocorb.mimo_buffer import Reader
from mimocorb.workers import rbProcess, rbTransfer

VPS = 2
IN = [("a", np.float32), ("b", np.int32)]
RAW = [("a", np.float32), ("b", np.int32), ("c", np.float32)]  # takes raw copies; c is extra
PAR = [("p", np.float64), ("q", np.int32), ("z", np.float32)]  # takes processed elements; z is extra
ELEMENT = [("p", np.float64), ("q", np.float64)]

EVENTS = [
    ({"a": [1.5, 2.5], "b": [1, 2]}, (11, 1000.25, 0.125)),
    ({"a": [-3.5, 4.5], "b": [3, 4]}, (12, 1001.5, 0.25)),
]


def param(event: np.ndarray) -> np.ndarray:
    """A processed element as filters make them: shape (1,), float q to be truncated into int32."""
    a0 = float(event["a"][0])
    return np.array([(2 * a0, a0 + 0.9)], dtype=ELEMENT)


def param2(event: np.ndarray) -> np.void:
    """A second kind of element, given as a record (numpy.void) instead of an array."""
    return np.array([(-float(event["a"][0]), 7.99)], dtype=ELEMENT)[0]


def expected(kind: str, fields: dict) -> dict:
    a0 = fields["a"][0]
    if kind == "raw":
        return {"a": fields["a"], "b": fields["b"], "c": [0, 0]}
    if kind == "same":
        return {"a": fields["a"], "b": fields["b"]}
    if kind == "param":
        return {"p": [2 * a0] * VPS, "q": [int(np.trunc(a0 + 0.9))] * VPS, "z": [0, 0]}
    if kind == "param2":
        return {"p": [-a0] * VPS, "q": [7] * VPS, "z": [0, 0]}
    raise AssertionError(kind)


def check_sink(received: list, kinds: list[str]) -> None:
    """Per input event, in order, the sink holds one slot per entry of ``kinds``, metadata copied."""
    want = [(kind, fields, meta) for fields, meta in EVENTS for kind in kinds]
    assert len(received) == len(want), f"got {len(received)} slots, expected {kinds} per event"
    for (data, meta), (kind, fields, in_meta) in zip(received, want, strict=True):
        assert meta == in_meta
        for name, values in expected(kind, fields).items():
            np.testing.assert_array_equal(data[name], np.asarray(values, dtype=data.dtype[name]), name)


def run_filter(make_buffer, cls, sink_dtypes, ufunc) -> list[list]:
    src = make_buffer(8, VPS, IN, name="RB_1")
    group = src.new_reader_group()
    sinks = [make_buffer(8, VPS, dt, name=f"RB_{k + 2}") for k, dt in enumerate(sink_dtypes)]
    readers = [Reader(s.new_reader_group()) for s in sinks]
    for s, r in zip(sinks, readers, strict=True):
        dirty(s, r)
    rb_info = {"RB_1": "read", **{s.name: "write" for s in sinks}}
    filt = cls([group], [s.new_writer() for s in sinks], {}, ufunc, **rb_info)
    write_events(src.new_writer(), EVENTS)
    run_until_shutdown(filt, src)
    return [collect(r) for r in readers]


TRANSFER_ROWS = {
    # id: (sink dtypes, ufunc, slots expected per event in each sink)
    "None rejects": ([RAW], lambda e: None, [[]]),
    "2 sinks [P] (lifetime_filter)": ([RAW, PAR], lambda e: [param(e)], [["raw"], ["param"]]),
    "3 sinks [P, None]": ([RAW, PAR, PAR], lambda e: [param(e), None], [["raw"], ["param"], []]),
    "3 sinks [None, P]": ([RAW, PAR, PAR], lambda e: [None, param(e)], [["raw"], [], ["param"]]),
    "3 sinks [P]": ([RAW, PAR, PAR], lambda e: [param(e)], [["raw"], ["param"], []]),
    "3 sinks (P, record)": (
        [RAW, PAR, PAR],
        lambda e: (param(e), param2(e)),
        [["raw"], ["param"], ["param2"]],
    ),
    "1 sink [P] (spectrum_filter)": ([PAR], lambda e: [param(e)], [["param"]]),
    "2 sinks [P, record]": ([PAR, PAR], lambda e: [param(e), param2(e)], [["param"], ["param2"]]),
    "2 sinks [None, P]": ([PAR, PAR], lambda e: [None, param(e)], [[], ["param"]]),
    "1 sink (P, None): None beyond the last sink": ([PAR], lambda e: (param(e), None), [["param"]]),
    "1 sink []: raw copy only": ([RAW], lambda e: [], [["raw"]]),
    "2 sinks (): raw copy only": ([RAW, PAR], lambda e: (), [["raw"], []]),
    "same dtype raw copy": ([IN, PAR], lambda e: 1, [["same"], []]),
}


@pytest.mark.parametrize("row", TRANSFER_ROWS.values(), ids=TRANSFER_ROWS.keys())
def test_transfer_return_value_rows(make_buffer, row):
    sink_dtypes, ufunc, kinds = row
    for received, sink_kinds in zip(
        run_filter(make_buffer, rbTransfer, sink_dtypes, ufunc), kinds, strict=True
    ):
        check_sink(received, sink_kinds)


@pytest.mark.parametrize(
    "value",
    [1, True, 0, False, 2.5, np.int64(3), np.array([1, 2]), {"x": 1}, "text"],
    ids=["1", "True", "0", "False", "float", "np.int64", "ndarray", "dict", "str"],
)
@pytest.mark.parametrize("n_sinks", [1, 2, 3])
def test_transfer_anything_else_is_a_raw_copy_to_sink_0_only(make_buffer, value, n_sinks):
    sink_dtypes = [RAW] + [PAR] * (n_sinks - 1)
    received = run_filter(make_buffer, rbTransfer, sink_dtypes, lambda e: value)
    check_sink(received[0], ["raw"])
    for other in received[1:]:
        assert other == []


def run_failing(make_buffer, cls, sink_dtypes, ufunc, match: str) -> list[list]:
    """The filter must raise at the first event and leave nothing of it in any sink."""
    src = make_buffer(4, VPS, IN, name="RB_1")
    group = src.new_reader_group()
    sinks = [make_buffer(4, VPS, dt, name=f"RB_{k + 2}") for k, dt in enumerate(sink_dtypes)]
    readers = [Reader(s.new_reader_group()) for s in sinks]
    rb_info = {"RB_1": "read", **{s.name: "write" for s in sinks}}
    filt = cls([group], [s.new_writer() for s in sinks], {}, ufunc, **rb_info)
    write_events(src.new_writer(), EVENTS[:1])
    with pytest.raises(ValueError, match=match):
        filt()
    filt.source.release()
    received = [collect(r) for r in readers]
    assert received == [[] for _ in sinks]
    return received


def test_transfer_element_beyond_the_last_sink_is_an_error(make_buffer):
    run_failing(make_buffer, rbTransfer, [PAR], lambda e: [param(e), param(e)], r"rbTransfer: .*only 1 sinks")


def test_transfer_raw_copy_into_a_sink_without_the_input_fields_is_an_error(make_buffer):
    run_failing(make_buffer, rbTransfer, [PAR], lambda e: 1, r"rbTransfer: cannot copy .*\['a', 'b'\]")


def test_transfer_element_field_missing_in_sink_is_an_error(make_buffer):
    def bad(e):
        return [np.array([(1.0, 2.0)], dtype=[("p", "f8"), ("nope", "f8")])]

    run_failing(make_buffer, rbTransfer, [PAR], bad, r"rbTransfer: .*\['nope'\]")


def test_transfer_unstructured_element_is_an_error(make_buffer):
    run_failing(make_buffer, rbTransfer, [PAR], lambda e: [5], r"rbTransfer: .*structured")


def test_transfer_element_of_wrong_shape_is_an_error_and_nothing_is_committed(make_buffer):
    def wrong(e):
        return [np.zeros(3, dtype=ELEMENT)]

    run_failing(make_buffer, rbTransfer, [PAR], wrong, r"rbTransfer: .*RB_2 has shape \(3,\)")


@pytest.mark.parametrize("bad", [7, np.zeros(3, dtype=ELEMENT)], ids=["not structured", "wrong shape"])
def test_transfer_bad_later_element_writes_nothing_of_the_event(make_buffer, bad):
    """The raw copy to sink 0 must not be committed when the element for sink 1 is bad."""
    run_failing(make_buffer, rbTransfer, [RAW, PAR], lambda e: [bad], r"rbTransfer: .*RB_3")


def test_transfer_raw_copy_needs_matching_slot_lengths(make_buffer):
    src = make_buffer(4, VPS, IN, name="RB_1")
    longer = make_buffer(4, 3, IN, name="RB_2")
    filt = rbTransfer(
        [src.new_reader_group()], [longer.new_writer()], {}, lambda e: 1, RB_1="read", RB_2="write"
    )
    write_events(src.new_writer(), EVENTS[:1])
    with pytest.raises(
        ValueError, match=r"rbTransfer: cannot copy .*\(2 values per slot\) to sink RB_2 \(3 values"
    ):
        filt()
    filt.source.release()


def test_transfer_raw_copy_broadcasts_a_single_value_slot(make_buffer):
    src = make_buffer(4, 1, IN, name="RB_1")
    wide = make_buffer(4, 2, RAW, name="RB_2")  # 24 bytes: see test_workers_slots.py
    reader = Reader(wide.new_reader_group())
    filt = rbTransfer(
        [src.new_reader_group()], [wide.new_writer()], {}, lambda e: 1, RB_1="read", RB_2="write"
    )
    write_events(src.new_writer(), [({"a": 1.5, "b": 4}, (3, 2.0, 0.5))])
    run_until_shutdown(filt, src)
    ((data, meta),) = collect(reader)
    assert meta == (3, 2.0, 0.5)
    np.testing.assert_array_equal(data["a"], 1.5)
    np.testing.assert_array_equal(data["b"], 4)
    np.testing.assert_array_equal(data["c"], 0)


def test_transfer_failure_while_copying_discards_the_slot(make_buffer):
    """A mismatch only numpy finds (sub-array fields) is reported and the half-written slot discarded."""
    sink = [("w", np.float32, (2,))]

    def three(e):
        return [np.zeros(1, dtype=[("w", np.float32, (3,))])]

    run_failing(make_buffer, rbTransfer, [sink], three, r"rbTransfer: writing the result to sink RB_2 failed")


def test_transfer_full_width_element_is_copied_value_by_value(make_buffer):
    def per_value(e):
        out = np.zeros(VPS, dtype=ELEMENT)
        out["p"] = e["a"]
        out["q"] = e["b"] * 10
        return [out]

    (received,) = run_filter(make_buffer, rbTransfer, [PAR], per_value)
    for (data, meta), (fields, in_meta) in zip(received, EVENTS, strict=True):
        assert meta == in_meta
        np.testing.assert_array_equal(data["p"], np.float64(np.float32(fields["a"])))
        np.testing.assert_array_equal(data["q"], np.array(fields["b"]) * 10)
        np.testing.assert_array_equal(data["z"], 0)


def test_transfer_ufunc_sees_the_structured_input_view(make_buffer):
    seen = []

    def look(e):
        seen.append((e.shape, e.dtype, e.flags.owndata, e.copy()))

    run_filter(make_buffer, rbTransfer, [RAW], look)
    assert len(seen) == 2
    for (shape, dtype, owndata, data), (fields, _) in zip(seen, EVENTS, strict=True):
        assert shape == (VPS,) and dtype == np.dtype(IN) and not owndata
        np.testing.assert_array_equal(data["b"], fields["b"])


# ---- rbProcess ---------------------------------------------------------------------------------

PROCESS_ROWS = {
    "None rejects": ([RAW, PAR], lambda e: None, [[], []]),
    "True, P, None": ([RAW, PAR, PAR], lambda e: [True, param(e), None], [["raw"], ["param"], []]),
    "numpy.True_ is True": ([RAW], lambda e: (np.True_,), [["raw"]]),
    "None, record": ([RAW, PAR], lambda e: [None, param2(e)], [[], ["param2"]]),
    "list: own slot each, None skipped": (
        [PAR],
        lambda e: [[param(e), None, param2(e)]],
        [["param", "param2"]],
    ),
    "tuple entry": ([RAW, PAR], lambda e: [True, (param2(e), param(e))], [["raw"], ["param2", "param"]]),
    "extra entries ignored": ([PAR], lambda e: [param(e), param2(e), True], [["param"]]),
    "empty list entry writes nothing": ([PAR, RAW], lambda e: [[], True], [[], ["raw"]]),
    "same dtype raw copy": ([IN], lambda e: [True], [["same"]]),
}


@pytest.mark.parametrize("row", PROCESS_ROWS.values(), ids=PROCESS_ROWS.keys())
def test_process_rules(make_buffer, row):
    sink_dtypes, ufunc, kinds = row
    for received, sink_kinds in zip(
        run_filter(make_buffer, rbProcess, sink_dtypes, ufunc), kinds, strict=True
    ):
        check_sink(received, sink_kinds)


def test_process_fewer_entries_than_sinks_is_an_error(make_buffer):
    run_failing(
        make_buffer, rbProcess, [RAW, PAR], lambda e: [True], r"rbProcess: .*\(2 sinks\), got 1 entries"
    )


@pytest.mark.parametrize("value", [True, 1, np.True_], ids=["True", "1", "np.True_"])
def test_process_result_that_is_not_a_sequence_is_an_error(make_buffer, value):
    run_failing(make_buffer, rbProcess, [RAW], lambda e: value, r"rbProcess: .*one entry per sink")


@pytest.mark.parametrize("value", [False, np.False_, 0, 1], ids=["False", "np.False_", "0", "1"])
def test_process_other_scalars_are_not_elements(make_buffer, value):
    run_failing(make_buffer, rbProcess, [RAW], lambda e: [value], r"rbProcess: .*structured")


def test_process_bad_entry_for_a_later_sink_writes_nothing_of_the_event(make_buffer):
    run_failing(make_buffer, rbProcess, [RAW, PAR], lambda e: [True, True], r"rbProcess: cannot copy")

"""Constructor checks of the access classes: a ValueError that names the class and the cause."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mimocorb.workers import (
    rbDrain,
    rbExport,
    rbImport,
    rbObserver,
    rbProcess,
    rbPut,
    rbTransfer,
    rbWSObserver,
)

DT = [("ch1", np.float32), ("ch2", np.int32)]


def gen():
    yield [1, 2], None


def keep(event):
    return 1


@pytest.fixture
def bufs(make_buffer):
    """Two structured buffers and one plain (non-structured) one, as a YAML data_type string makes."""
    return make_buffer(4, 2, DT, name="RB_1"), make_buffer(4, 2, DT, name="RB_2"), make_buffer(4, 2, np.int32)


def sink_cases(cls, ufunc):
    return {
        "sink_list None": (lambda b: cls(None, {}, ufunc, RB_1="write"), r"sink_list is None"),
        "sink_list empty": (
            lambda b: cls([], {}, ufunc, RB_1="write"),
            r"sink_list must be a non-empty list",
        ),
        "sink_list not setups": (lambda b: cls([{"a": 1}], {}, ufunc, RB_1="write"), r"not a buffer setup"),
        "read entry": (
            lambda b: cls([b[0].new_writer()], {}, ufunc, RB_1="write", RB_2="read"),
            r"\{'RB_2': 'read'\} are not allowed",
        ),
        "observe entry": (
            lambda b: cls([b[0].new_writer()], {}, ufunc, RB_1="write", RB_2="observe"),
            r"\{'RB_2': 'observe'\} are not allowed",
        ),
        "no write entry": (lambda b: cls([b[0].new_writer()], {}, ufunc), r"no buffer is marked 'write'"),
        "plain dtype": (
            lambda b: cls([b[2].new_writer()], {}, ufunc, RB_3="write"),
            r"RB_3 has the plain dtype int32.*field name",
        ),
        "config not a mapping": (lambda b: cls([b[0].new_writer()], 5, ufunc, RB_1="write"), r"config_dict"),
    }


IMPORT_CASES = {
    **sink_cases(rbImport, gen),
    "ufunc None": (
        lambda b: rbImport([b[0].new_writer()], {}, None, RB_1="write"),
        r"ufunc must be a callable",
    ),
    "ufunc not callable": (lambda b: rbImport([b[0].new_writer()], {}, 3, RB_1="write"), r"ufunc must be"),
    "ufunc returns no iterator": (
        lambda b: rbImport([b[0].new_writer()], {}, lambda: 42, RB_1="write"),
        r"ufunc\(\) must return an iterator",
    ),
}


@pytest.mark.parametrize("case", IMPORT_CASES.values(), ids=IMPORT_CASES.keys())
def test_import_refuses(bufs, case):
    make, match = case
    with pytest.raises(ValueError, match=r"^rbImport: .*" + match):
        make(bufs)


PUT_CASES = sink_cases(rbPut, None)


@pytest.mark.parametrize("case", PUT_CASES.values(), ids=PUT_CASES.keys())
def test_put_refuses(bufs, case):
    make, match = case
    with pytest.raises(ValueError, match=r"^rbPut: .*" + match):
        make(bufs)


def test_sources_warn_about_more_than_one_sink_and_use_the_first(bufs, caplog):
    a, b, _ = bufs
    with caplog.at_level(logging.WARNING):
        put = rbPut([a.new_writer(), b.new_writer()], {}, RB_1="write", RB_2="write")
    assert "only the first one" in caplog.text
    assert put.sink.name == "RB_1"


EXPORT_CASES = {
    "source_list None": (lambda b: rbExport(None, {}, RB_1="read"), r"source_list is None"),
    "write entry": (lambda b: rbExport([b[0].new_reader_group()], {}, RB_1="read", RB_2="write"), r"'write'"),
    "observe entry": (
        lambda b: rbExport([b[0].new_reader_group()], {}, RB_1="read", RB_2="observe"),
        r"'observe'",
    ),
    "no read entry": (lambda b: rbExport([b[0].new_reader_group()], {}), r"no buffer is marked 'read'"),
}


@pytest.mark.parametrize("case", EXPORT_CASES.values(), ids=EXPORT_CASES.keys())
def test_export_refuses(bufs, case):
    make, match = case
    with pytest.raises(ValueError, match=r"^rbExport: .*" + match):
        make(bufs)


def test_export_accepts_a_plain_dtype(bufs):
    """Exporting needs no field names, so the plain buffers of the unit test work."""
    rbExport([bufs[2].new_reader_group()], {}, RB_3="read")


def filter_cases(cls):
    def make(src, sinks, ufunc=keep, config=None):
        return lambda b: cls(src(b), sinks(b), config, ufunc, RB_1="read", RB_2="write")

    def src(b):
        return [b[0].new_reader_group()]

    def sink(b):
        return [b[1].new_writer()]

    return {
        "ufunc None": (make(src, sink, None), r"ufunc must be a callable"),
        "ufunc not callable": (make(src, sink, [1]), r"ufunc must be a callable"),
        "source_list None": (make(lambda b: None, sink), r"source_list is None"),
        "source_list empty": (make(lambda b: [], sink), r"source_list must be a non-empty list"),
        "sink_list None": (make(src, lambda b: None), r"sink_list is None"),
        "plain source": (make(lambda b: [b[2].new_reader_group()], sink), r"RB_1 has the plain dtype"),
        "plain sink": (make(src, lambda b: [b[1].new_writer(), b[2].new_writer()]), r"plain dtype"),
        "config not a mapping": (make(src, sink, config=[1]), r"config_dict must be a mapping"),
    }


@pytest.mark.parametrize("cls", [rbTransfer, rbProcess])
@pytest.mark.parametrize("case", filter_cases(rbTransfer).keys())
def test_filters_refuse(bufs, cls, case):
    make, match = filter_cases(cls)[case]
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: .*{match}"):
        make(bufs)


def test_refused_filter_attaches_nothing(bufs):
    """The checks run before any buffer is attached: the source group gets no process."""
    src, _, plain = bufs
    group = src.new_reader_group()
    with pytest.raises(ValueError):
        rbTransfer([group], [plain.new_writer()], {}, keep, RB_1="read", RB_3="write")
    assert src.stats()["groups"][0]["processes"] == 0


def test_filters_warn_about_more_than_one_source(bufs, caplog):
    a, b, _ = bufs
    with caplog.at_level(logging.WARNING):
        t = rbTransfer([a.new_reader_group(), b.new_reader_group()], [b.new_writer()], {}, keep)
    assert "only the first one" in caplog.text and t.source.name == "RB_1"


DRAIN_CASES = {
    "no read entry": (lambda b: rbDrain([b[0].new_reader_group()], {}), r"no buffer is marked 'read'"),
    "only write": (lambda b: rbDrain([b[0].new_reader_group()], {}, RB_1="write"), r"marked 'read'"),
    "source_list None": (lambda b: rbDrain(None, {}, RB_1="read"), r"source_list is None"),
}


@pytest.mark.parametrize("case", DRAIN_CASES.values(), ids=DRAIN_CASES.keys())
def test_drain_refuses(bufs, case):
    make, match = case
    with pytest.raises(ValueError, match=r"^rbDrain: .*" + match):
        make(bufs)


@pytest.mark.parametrize("cls", [rbObserver, rbWSObserver])
def test_observer_refuses_missing_list_and_bad_config(bufs, cls):
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: observe_list is None"):
        cls(None, {}, RB_1="observe")
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: config_dict must be a mapping"):
        cls([bufs[0].new_observer()], "x", RB_1="observe")


@pytest.mark.parametrize("cls", [rbObserver, rbWSObserver])
def test_observer_without_observe_entry_exits_the_process(bufs, cls, caplog):
    """As the original: an error message, then SystemExit (here with code 1, not a silent 0)."""
    with pytest.raises(SystemExit) as exc:
        cls([bufs[0].new_observer()], {}, RB_1="read")
    assert exc.value.code == 1
    assert "no buffer is marked 'observe'" in caplog.text

"""``mimocorb inspect FILE``: what a recorded file holds — events, fields, time span and rate.

Works on every format (the Parquet dataset or one of its parts, tar archives of ``rb_toParquetfile``,
text files of ``rb_toTxtfile``, ROOT and HDF5 files), and on all parts of a recording at once. The
Parquet dataset is summarised from its footers where possible; the tar
format has no timestamps, so its time span and rate are reported as unknown.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .reading import blocks, files_of, kind_of, parquet_files, read_schema, recording_metadata

SETUP_PLACES = {
    "parquet": "in the key-value metadata",
    "root": "TObjString mimocorb/setup",
    "hdf5": "attribute mimocorb.setup",
}


def inspect_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The facts about a recording, as a JSON-able mapping (``describe`` renders them as text)."""
    kind = kind_of(path)
    info: dict[str, Any] = {"path": str(path), "format": kind}
    if kind == "parquet":
        info.update(_parquet_info(path))
        return info
    events = 0
    fields: dict[str, str] = {}
    first = last = None
    counters: list[int] = []
    for block in blocks(path):
        events += len(block)
        if not fields:
            fields = {n: f"{a.dtype} x {a.shape[1]}" for n, a in block.fields.items()}
        counters += [int(block.counter[0]), int(block.counter[-1])]
        if block.timestamp is not None and len(block):
            first = (
                float(np.min(block.timestamp))
                if first is None
                else min(first, float(np.min(block.timestamp)))
            )
            last = (
                float(np.max(block.timestamp)) if last is None else max(last, float(np.max(block.timestamp)))
            )
    info.update(events=events, fields=fields)
    if counters:
        info["counters"] = [min(counters), max(counters)]
    files = files_of(path)
    if len(files) > 1 or kind in ("root", "hdf5"):
        info["parts"] = len(files)
    info.update(_described(recording_metadata(path)))
    info.update(_span(events, first, last))
    return info


def _described(meta: dict[str, str]) -> dict[str, Any]:
    """The buffer and the run's files, from a recording's metadata texts."""
    info: dict[str, Any] = {}
    if "mimocorb.buffer" in meta:
        info["buffer"] = meta["mimocorb.buffer"]
    if "mimocorb.setup" in meta:
        info["setup_files"] = sorted(json.loads(meta["mimocorb.setup"]))
    return info


def _parquet_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = parquet_files(path)
    schema = read_schema(path)
    events = 0
    first = last = None
    cmin = cmax = None
    for file in files:
        table = pq.read_table(file, columns=["counter", "timestamp"])
        events += table.num_rows
        if table.num_rows:
            ts = pc.min_max(table.column("timestamp")).as_py()
            cs = pc.min_max(table.column("counter")).as_py()
            first = ts["min"] if first is None else min(first, ts["min"])
            last = ts["max"] if last is None else max(last, ts["max"])
            cmin = cs["min"] if cmin is None else min(cmin, cs["min"])
            cmax = cs["max"] if cmax is None else max(cmax, cs["max"])
    fields = {
        f.name: _type_text(f.type) for f in schema if f.name not in ("counter", "timestamp", "deadtime")
    }
    info: dict[str, Any] = {"parts": len(files), "events": events, "fields": fields}
    if cmin is not None:
        info["counters"] = [cmin, cmax]
    info.update(_described(recording_metadata(path)))
    info.update(_span(events, first, last))
    return info


def _type_text(t: Any) -> str:
    """``float32 x 4250``: numpy's type names, as for the other formats."""
    size = getattr(t, "list_size", None)
    value = t.value_type if size is not None else t
    try:
        name = np.dtype(value.to_pandas_dtype()).name
    except (NotImplementedError, TypeError):
        name = str(value)
    return f"{name} x {size if size is not None else 1}"


def _span(events: int, first: float | None, last: float | None) -> dict[str, Any]:
    if first is None or last is None:
        return {"time_span_s": None, "rate_hz": None}
    span = last - first
    return {
        "first": _iso(first),
        "last": _iso(last),
        "time_span_s": round(span, 6),
        "rate_hz": round((events - 1) / span, 3) if span > 0 and events > 1 else None,
    }


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, tz=_dt.timezone.utc).isoformat(timespec="milliseconds")


def describe(info: dict[str, Any]) -> str:
    """The text ``mimocorb inspect`` prints."""
    lines = [
        f"{info['path']}: {info['format']}" + (f", {info['parts']} part file(s)" if "parts" in info else "")
    ]
    if "buffer" in info:
        lines.append(f"  buffer:    {info['buffer']}")
    lines.append(f"  events:    {info['events']}")
    if "counters" in info:
        lines.append(f"  counters:  {info['counters'][0]} ... {info['counters'][1]}")
    lines.append("  fields:    " + ", ".join(f"{n} ({t})" for n, t in info["fields"].items()))
    if info.get("time_span_s") is None:
        lines.append(
            "  time span: unknown (no timestamps in this format)"
            if info["format"] == "tar"
            else "  time span: -"
        )
    else:
        lines.append(f"  time span: {info['first']} ... {info['last']} ({info['time_span_s']:.3f} s)")
        rate = info.get("rate_hz")
        lines.append(f"  rate:      {rate:.3f} Hz" if rate is not None else "  rate:      -")
    if info.get("setup_files"):
        lines.append("  setup:     " + ", ".join(info["setup_files"]) + f" ({SETUP_PLACES[info['format']]})")
    return "\n".join(lines)


def main_inspect(path: str, as_json: bool = False) -> str:
    info = inspect_file(Path(path))
    return json.dumps(info, indent=2) if as_json else describe(info)

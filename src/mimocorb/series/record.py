"""The series directory's table of runs: series.json (kept up to date, also for a resumed series) and
series.md (the same as a table to read).

series.json is rewritten whole after every change, through a temporary file that is flushed to the
disk before it replaces the old one: after a power cut the table is the one before the change or the
one after it, never half of each. A run the table shows as ``running`` when a sequence command starts
was cut off (the command was killed, or the machine went down): it is marked ``interrupted`` and its
directory left as it is; if the run had finished writing its run_summary.json, its result counts.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

from .. import __version__
from .spec import Series, Step

RECORD_NAME = "series.json"
TABLE_NAME = "series.md"
SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


class SeriesChanged(ValueError):
    """The series file no longer says what the series directory was begun with (or its table is
    unreadable): going on would mix two series."""


class SeriesRecord:
    """series.json of one series directory, and the series.md made from it."""

    def __init__(self, directory: Path, data: dict[str, Any]) -> None:
        self.directory = directory
        self.data = data

    @classmethod
    def open(cls, directory: Path, series: Series) -> SeriesRecord:
        """The record of ``directory``: begun now (with a copy of the series file), or resumed."""
        path = directory / RECORD_NAME
        if not path.exists():
            shutil.copy2(series.file, directory / series.file.name)
            record = cls(directory, _fresh(series))
        else:
            try:
                record = cls(directory, json.loads(path.read_text(encoding="utf-8")))
            except ValueError as exc:
                raise SeriesChanged(
                    f"{path} cannot be read ({exc}); it is not a table this command wrote"
                ) from exc
            record.check_same(series)
        record.data["policy"] = series.policy.text()
        return record

    def check_same(self, series: Series) -> None:
        old = [
            {k: v for k, v in s.items() if k in ("step", "overrides", "runtime", "runevents")}
            for s in self.steps
        ]
        new = _plain([s.record() for s in series.steps])
        if old == new and self.data.get("setup") == str(series.setup):
            return
        pairs = zip(old, new, strict=False)
        differs = next((n["step"] for o, n in pairs if o != n), min(len(old), len(new)) + 1)
        what = "its setup" if self.data.get("setup") != str(series.setup) else f"step {differs}"
        raise SeriesChanged(
            f"{series.shown} has changed ({what}) since {self.directory} was begun with it; finish the "
            "series with the file as it was, or begin it afresh elsewhere (--output) or after moving that "
            "directory away"
        )

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.data["steps"]

    def step(self, number: int) -> dict[str, Any]:
        return self.steps[number - 1]

    # -- what happens ------------------------------------------------------------------------------

    def take_over(self) -> list[dict[str, Any]]:
        """Runs left ``running`` by a command that is gone: their outcome, if they wrote one, else
        ``interrupted``. Returns the runs marked interrupted."""
        cut = []
        for step in self.steps:
            for run in step["runs"]:
                if run["status"] != "running":
                    continue
                summary = _summary(self.directory, run.get("run_directory"))
                if summary is not None:
                    run.update(outcome_of(summary))
                    step["status"] = _after_run(run["status"], step["status"])
                else:
                    run.update(status="interrupted", note="the sequence command ended during this run")
                    cut.append(run)
        self.data["state"] = "running"
        self.save()
        return cut

    def begin(self, step: Step) -> dict[str, Any]:
        """A new run of ``step``, recorded as running before anything of it exists."""
        record = self.step(step.number)
        run = {"run": len(record["runs"]) + 1, "status": "running", "start": _now(), "run_directory": None}
        record["runs"].append(run)
        record["status"] = "running"
        self.save()
        return run

    def finish(self, step: Step, run: dict[str, Any], outcome: dict[str, Any], then: str | None) -> None:
        """The run's outcome; ``then`` is what becomes of a failed step (``skipped`` or ``stopped``)."""
        run.update(outcome)
        record = self.step(step.number)
        record["status"] = then if then is not None else _after_run(run["status"], "pending")
        self.save()

    def end(self, state: str) -> None:
        """The command ends: nothing runs any more, so a step still marked running waits for the next."""
        for step in self.steps:
            if step["status"] == "running":
                step["status"] = "pending"
        self.data["state"] = state
        self.save()

    # -- writing -----------------------------------------------------------------------------------

    def save(self) -> None:
        self.data["updated"] = _now()
        write_durably(self.directory / RECORD_NAME, json.dumps(self.data, indent=2, default=str) + "\n")
        write_durably(self.directory / TABLE_NAME, markdown(self.data))


def outcome_of(summary: dict[str, Any]) -> dict[str, Any]:
    """What the table keeps of a run_summary.json, and the run's status in the series."""
    if summary.get("end_reason") in SIGNALS:
        status = "interrupted"
    else:
        status = "ok" if summary.get("exit_code") == 0 else "failed"
    return {
        "status": status,
        "end": summary.get("end"),
        "end_reason": summary.get("end_reason"),
        "exit_code": summary.get("exit_code"),
        "events": summary.get("events"),
        "active_time_s": summary.get("active_time_s"),
        "failures": summary.get("failures", []),
    }


def write_durably(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` so that a crash at any moment leaves the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    tmp.replace(path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def markdown(data: dict[str, Any]) -> str:
    """series.md: the series, then one row per run (and one per step that has none yet)."""
    keys = list(dict.fromkeys(k for s in data["steps"] for k in s["overrides"]))
    head = [
        "step",
        *[f"`{k}`" for k in keys],
        "run",
        "status",
        "end reason",
        "events",
        "active s",
        "run directory",
    ]
    rows = [head, ["---"] * len(head)]
    for step in data["steps"]:
        values = [str(step["step"]), *[_cell(step["overrides"].get(k, "")) for k in keys]]
        for run in step["runs"] or [None]:
            rows.append([*values, *_run_cells(step, run)])
    done = sum(s["status"] in ("done", "skipped") for s in data["steps"])
    lines = [
        f"# Series {data['series']}",
        "",
        f"Setup `{data['setup']}`; {len(data['steps'])} steps, {done} finished; state: **{data['state']}**.",
        f"A failed run: {data.get('policy', '')}. Updated {data['updated']}.",
        "",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return "\n".join(lines) + "\n"


def _run_cells(step: dict[str, Any], run: dict[str, Any] | None) -> list[str]:
    if run is None:
        return ["", step["status"], "", "", "", ""]
    directory = run.get("run_directory")
    link = f"[{directory}]({directory}/)" if directory else ""
    return [
        str(run["run"]),
        run["status"]
        if run["status"] != "failed" or step["status"] == "running"
        else f"failed, step {step['status']}",
        _cell(run.get("end_reason") or run.get("error") or run.get("note") or ""),
        _cell(run.get("events", "")),
        _cell(run.get("active_time_s", "")),
        link,
    ]


def _fresh(series: Series) -> dict[str, Any]:
    return {
        "mimocorb_version": __version__,
        "series": series.name,
        "series_file": str(series.file),
        "setup": str(series.setup),
        "state": "running",
        "begun": _now(),
        "updated": _now(),
        "steps": [{**_plain(s.record()), "status": "pending", "runs": []} for s in series.steps],
    }


def _after_run(status: str, otherwise: str) -> str:
    return "done" if status == "ok" else otherwise


def _summary(directory: Path, name: str | None) -> dict[str, Any] | None:
    path = directory / name / "run_summary.json" if name else None
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None


def _plain(data: Any) -> Any:
    """As it reads back from JSON (tuples become lists), so that old and new steps compare."""
    return json.loads(json.dumps(data, default=str))


def _cell(value: Any) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")

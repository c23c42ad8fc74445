"""YAML loading: PyYAML semantics the setups rely on, plus line numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cfg_project import Project

from mimocorb.config import ConfigError, load_yaml, to_plain
from mimocorb.config.loader import locate


def write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_duplicate_keys_last_wins_and_its_line_is_kept(tmp_path: Path) -> None:
    data = load_yaml(write(tmp_path, "a: 1\nb: 2\na: 3\n"))
    assert data == {"a": 3, "b": 2}
    assert data.key_lines == {"a": 3, "b": 2}


def test_anchors_aliases_and_merge_keys(tmp_path: Path) -> None:
    text = """\
general:
  base: &base {x: 1, y: 2}
  n: &n 7
f:
  <<: *base
  y: 5
  n: *n
  list: [*n, *n]
"""
    data = load_yaml(write(tmp_path, text))
    assert data["f"] == {"x": 1, "y": 5, "n": 7, "list": [7, 7]}


def test_lines_of_keys_and_items_give_key_paths(tmp_path: Path) -> None:
    data = load_yaml(write(tmp_path, "top:\n  - first: 1\n  - second:\n      deep: 2\n"))
    assert locate(data, ("top", 1, "second", "deep")) == ("top[1].second.deep", 4)
    assert locate(data, ("top", 0, "missing")) == ("top[0].missing", 2)


def test_to_plain_returns_builtin_containers_and_keeps_aliases_shared(tmp_path: Path) -> None:
    plain = to_plain(load_yaml(write(tmp_path, "a: &x {k: [1, 2]}\nb: *x\n")))
    assert type(plain) is dict and type(plain["a"]) is dict and type(plain["a"]["k"]) is list
    assert plain["a"] is plain["b"]


def test_missing_file_is_file_not_found_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.yaml"):
        load_yaml(tmp_path / "nowhere.yaml")


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\nb: [1, 2\nc: 3\n", "broken.yaml")
    with pytest.raises(ConfigError) as info:
        load_yaml(path, "broken.yaml")
    (issue,) = info.value.issues
    assert (issue.file, issue.line) == ("broken.yaml", 3)
    assert str(issue).startswith("broken.yaml:3: YAML syntax error")


def test_data_type_labels_keep_file_order_not_label_order(project: Project) -> None:
    project.write(
        "setup.yaml",
        """\
RingBuffer:
  - RB_1:
      number_of_slots: 2
      channel_per_slot: 3
      data_type: {1: [a, int32], 3: [b, float64], 6: [c, int16], 9: [d, float32], 4: [e, uint8]}
Functions:
  - Fkt_main:
""",
    )
    (buffer,) = project.validate().buffers
    assert [name for name, _ in buffer.dtype] == ["a", "b", "c", "d", "e"]
    assert buffer.dtype[1] == ("b", np.dtype("float64"))
    assert np.zeros(3, dtype=buffer.dtype).dtype.names == ("a", "b", "c", "d", "e")


def test_duplicated_data_type_key_in_setup_last_wins(project: Project) -> None:
    project.write(
        "setup.yaml",
        """\
RingBuffer:
  - RB_1:
      number_of_slots: 2
      channel_per_slot: 1
      data_type: {1: [old, int32]}
      data_type: {1: [new, float64], 2: [more, int8]}
Functions:
  - Fkt_main:
""",
    )
    (buffer,) = project.validate().buffers
    assert buffer.dtype == [("new", np.dtype("float64")), ("more", np.dtype("int8"))]

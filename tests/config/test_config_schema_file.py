"""The published JSON Schema is generated from the models and must not go stale."""

from __future__ import annotations

import json
from pathlib import Path

from mimocorb.config import setup_json_schema, setup_json_schema_text

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "setup.schema.json"


def test_committed_schema_file_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == setup_json_schema_text(), (
        "docs/setup.schema.json is stale: regenerate with "
        "python -m mimocorb.config.schema > docs/setup.schema.json"
    )


def test_schema_describes_the_top_level_keys() -> None:
    schema = setup_json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["properties"]) == {
        "output_directory",
        "GUI_control",
        "KBD_control",
        "RingBuffer",
        "Functions",
        "FunctionConfigs",
        "Alarms",
        "web",
        "history",
    }
    assert schema["required"] == ["RingBuffer", "Functions"]
    assert schema["additionalProperties"] is False and "^x[-_]" in schema["patternProperties"]
    assert json.loads(setup_json_schema_text()) == schema

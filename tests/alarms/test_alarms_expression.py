"""The condition language: what it accepts, what it refuses (with the place), how it evaluates."""

from __future__ import annotations

import pytest

from mimocorb.alarms import ExpressionError, parse


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("RB_1.rate_hz < 0.5", {"RB_1.rate_hz": 0.2}, True),
        ("RB_1.rate_hz < 0.5", {"RB_1.rate_hz": 0.5}, False),
        ("RB_1.fill >= 1 and Fkt_2.restarts > 2", {"RB_1.fill": 1.0, "Fkt_2.restarts": 3}, True),
        ("RB_1.fill >= 1 and Fkt_2.restarts > 2", {"RB_1.fill": 1.0, "Fkt_2.restarts": 2}, False),
        ("not (temperature > 30 or temperature < -5)", {"temperature": 21.5}, True),
        ("not (temperature > 30 or temperature < -5)", {"temperature": -7}, False),
        ("0 < hv.channel_1 <= 1500", {"hv.channel_1": 1450}, True),
        ("0 < hv.channel_1 <= 1500", {"hv.channel_1": 1501}, False),
        ("a == 1 or b != 2", {"a": 0, "b": 2}, False),
        ("x > -1.5e3", {"x": -1000}, True),
    ],
)
def test_conditions_evaluate_by_the_values(text: str, values: dict, expected: bool) -> None:
    assert parse(text).holds(values) is expected


def test_a_variable_without_a_value_makes_the_condition_unknown_unless_the_rest_decides() -> None:
    condition = parse("RB_1.rate_hz < 0.5 or temperature > 30")
    assert condition.variables == ("RB_1.rate_hz", "temperature")
    assert condition.holds({"RB_1.rate_hz": 1.0}) is None  # temperature never published
    assert condition.holds({"RB_1.rate_hz": 0.1}) is True  # true whatever the temperature
    assert parse("a < 1 and b < 1").holds({"a": 5}) is False  # false whatever b is


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("__import__('os').system('rm -rf /') > 0", "a call at column 1"),
        ("RB_1.rate_hz + 1 > 2", "+ at column 1"),
        ("RB_1.rate_hz < '5'", "'5' at column 16"),
        ("x[0] > 1", "[] at column 1"),
        ("x < True", "True at column 5"),
        ("lambda: 1", "Lambda at column 1"),
        ("x in (1, 2)", "expected <, <=, >, >=, == or !="),
        ("RB_1.rate_hz", "a value alone"),
        ("RB_1.rate_hz <", "not a condition"),
        ("", "empty"),
    ],
)
def test_anything_outside_the_language_is_refused_saying_what_and_where(text: str, found: str) -> None:
    with pytest.raises(ExpressionError) as refused:
        parse(text)
    assert found in str(refused.value)

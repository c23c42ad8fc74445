"""Alarms: conditions on the run's sampled variables, declared in the setup (``Alarms``) or built in,
watched every sample, and what is done when one is raised or cleared.

``expression``: the condition language; ``spec``: alarms and actions; ``builtin``: the built-in alarms;
``watch``: debounce, raise, clear, acknowledge; ``actions``: the action process (webhook, e-mail,
command, history rows); ``smtp``: the mail server's settings; ``record``: the history table ``alarms``.
"""

from .actions import ActionLink
from .builtin import DEFAULTS, THRESHOLDS, builtin_alarms
from .expression import Condition, ExpressionError, parse
from .spec import (
    BUFFER_VARIABLES,
    OFF_LOOP_ACTIONS,
    RUN_VARIABLES,
    SEVERITIES,
    SIMPLE_ACTIONS,
    TARGET_ACTIONS,
    WORKER_VARIABLES,
    Action,
    AlarmSpec,
    ConditionTest,
    action_of,
)
from .watch import CLEARED, RAISED, AlarmEvent, AlarmWatch

__all__ = [
    "BUFFER_VARIABLES",
    "CLEARED",
    "DEFAULTS",
    "OFF_LOOP_ACTIONS",
    "RAISED",
    "RUN_VARIABLES",
    "SEVERITIES",
    "SIMPLE_ACTIONS",
    "TARGET_ACTIONS",
    "THRESHOLDS",
    "WORKER_VARIABLES",
    "Action",
    "ActionLink",
    "AlarmEvent",
    "AlarmSpec",
    "AlarmWatch",
    "Condition",
    "ConditionTest",
    "ExpressionError",
    "action_of",
    "builtin_alarms",
    "parse",
]

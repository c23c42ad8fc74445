"""Alarms: conditions on the run's sampled variables, declared in the setup (``Alarms``) or built in,
watched every sample, and what is done when one is raised or cleared.

``expression``: the condition language; ``spec``: alarms, actions and the names of the sampled variables;
``builtin``: the built-in alarms and their defaults; ``watch``: debounce, raise, clear, acknowledge;
``actions``: the action process (webhook, e-mail, command, history rows); ``smtp``: the mail server's
settings; ``record``: the history table ``alarms``.
"""

from .actions import ActionLink
from .builtin import builtin_alarms
from .expression import Condition, ExpressionError, parse
from .spec import Action, AlarmSpec, ConditionTest, action_of
from .watch import AlarmEvent, AlarmWatch

__all__ = [
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

"""``mimocorb.activity_logger``: the loggers of mimoCoRB 1.0.2, with one level switch for all of them.

User functions call ``rbImporter.logger.info(...)``; ``Gen_logger.set_level(logging.DEBUG)`` reaches every
logger made before or after. The loggers live in ``mimocorb.loggers``.
"""

from .loggers import ENV_LEVEL, Gen_logger, Logging_manager

__all__ = ["ENV_LEVEL", "Gen_logger", "Logging_manager"]

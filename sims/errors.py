"""The one error type advsim raises for bad input, and the small validators that raise it.

Every public entry point validates its arguments with these helpers, so a bad value always produces
an :class:`AdvsimError` whose message names the parameter, the value received and the allowed range
(``"<parameter> must be <allowed>; got <value>"``). ``AdvsimError`` subclasses :class:`ValueError`, so
``except ValueError`` keeps working. The validators live in :mod:`sims.validate`; this module re-exports
them (it is where they were first defined, and where most code imports them from).
"""

from __future__ import annotations

from sims.validate import (
    AdvsimError,
    check_bool,
    check_choice,
    check_finite,
    check_float,
    check_int,
)

__all__ = [
    "AdvsimError",
    "check_bool",
    "check_choice",
    "check_finite",
    "check_float",
    "check_int",
]

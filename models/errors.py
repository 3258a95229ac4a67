"""The suite's error hierarchy.

Every error the suite raises on purpose derives from :class:`AuditError` and from the built-in
exception it refines, so callers can catch either (as scikit-learn's ``NotFittedError`` does).
Messages say what was expected, what was got, and how to fix it.

This module lives in ``models`` because ``models`` is the lowest layer that the methods
(``explain``, ``attacks``) and the audit (``audit``) may all import. ``reports`` imports none of
the suite's other packages and raises plain built-ins instead.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base class of every error the suite raises on purpose."""


class InvalidConfigError(AuditError, ValueError):
    """A configuration value, argument or policy is invalid."""


class InvalidDataError(AuditError, ValueError):
    """Data has the wrong shape, range, type or content."""


class IncompatibleModelError(AuditError, TypeError):
    """A model cannot be used the way a method or check needs."""


class CheckpointError(AuditError, ValueError):
    """A model file or checkpoint folder cannot be loaded safely."""


class MissingDependencyError(AuditError, ImportError):
    """An optional dependency is not installed or does not import."""


def require_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` if it is an integer >= ``minimum`` (bools are not), else InvalidConfigError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value

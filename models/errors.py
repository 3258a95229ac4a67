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

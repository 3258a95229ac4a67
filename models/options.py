"""Options declared once, with their types and bounds, and validated in one place.

In the style of scikit-learn's ``_param_validation``: every option of a check (or of a method
configuration) is a dataclass field made with :func:`option`, which holds its default and its
:class:`Rule`. :func:`validate_fields` checks every field against its rule, converts the value to
its canonical form (lists become tuples, integers given for a float become floats) and raises one
message format for every bad value::

    option 'eps' of check 'robustness' must be a number > 0; got 'x'

The module sits in ``models/`` (the foundation every package may import, like
``models.errors``), so the methods in ``attacks/`` and ``explain/`` use the same rules as the
checks in ``audit/`` without importing ``audit/``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from rai_audit.models.errors import InvalidConfigError


class _Refused(Exception):
    """A value the rule does not allow (turned into the one message by :func:`validate_fields`)."""


class Rule:
    """What values an option allows: :meth:`coerce` checks and canonicalizes one value,
    :meth:`text` says what is allowed (it completes "must be ..."), :meth:`invalid` gives a
    value the rule refuses (for the contract tests that try every option)."""

    def coerce(self, value: Any) -> Any:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError

    def invalid(self) -> Any:
        return object()


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _num(v: float) -> str:
    return f"{v:g}"


def _range_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{_num(lo)}, {_num(hi)}{')' if hi_open else ']'}"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {_num(lo)}"
    if hi is not None:
        return f" {'<' if hi_open else '<='} {_num(hi)}"
    return ""


def _in_range(v: float, lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> bool:
    if lo is not None and (v < lo or (lo_open and v == lo)):
        return False
    return not (hi is not None and (v > hi or (hi_open and v == hi)))


@dataclass(frozen=True)
class Int(Rule):
    """An integer (not a bool) in a range; ``even`` asks for an even one."""

    lo: int | None = None
    hi: int | None = None
    even: bool = False

    def coerce(self, value: Any) -> int:
        if not _is_int(value) or not _in_range(value, self.lo, self.hi, False, False):
            raise _Refused
        if self.even and value % 2:
            raise _Refused
        return int(value)

    def text(self) -> str:
        return f"{'an even' if self.even else 'an'} integer{_range_text(self.lo, self.hi, False, False)}"

    def invalid(self) -> Any:
        return self.lo - 1 if self.lo is not None else "x"


@dataclass(frozen=True)
class Real(Rule):
    """A finite number (ints are accepted and become floats; bools are not) in a range."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def coerce(self, value: Any) -> float:
        if not _is_real(value) or not _in_range(
            value, self.lo, self.hi, self.lo_open, self.hi_open
        ):
            raise _Refused
        return float(value)

    def text(self) -> str:
        return f"a number{_range_text(self.lo, self.hi, self.lo_open, self.hi_open)}"

    def invalid(self) -> Any:
        return "x"


@dataclass(frozen=True)
class Choice(Rule):
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def coerce(self, value: Any) -> Any:
        for v in self.values:
            if type(v) is type(value) and v == value:
                return v
        raise _Refused

    def text(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def invalid(self) -> Any:
        return "no-such-value"


@dataclass(frozen=True)
class Bool(Rule):
    """true or false (not 0, 1 or "yes")."""

    def coerce(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise _Refused
        return value

    def text(self) -> str:
        return "true or false"

    def invalid(self) -> Any:
        return "yes"


@dataclass(frozen=True)
class Text(Rule):
    """A string; ``nonempty`` refuses ``""``."""

    nonempty: bool = False
    what: str = "string"

    def coerce(self, value: Any) -> str:
        if not isinstance(value, str) or (self.nonempty and not value):
            raise _Refused
        return value

    def text(self) -> str:
        return f"a {'non-empty ' if self.nonempty else ''}{self.what}"

    def invalid(self) -> Any:
        return 3


@dataclass(frozen=True)
class Names(Rule):
    """A list of distinct names, each from ``choices`` (a collection, or a function giving one, so
    a registry filled later is read when the value is checked). A bare string is refused: it is
    a common slip for a list of one."""

    choices: Iterable[str] | Callable[[], Iterable[str]]

    def _choices(self) -> list[str]:
        c = self.choices() if callable(self.choices) else self.choices
        return list(c)

    def coerce(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise _Refused
        allowed = set(self._choices())
        if any(not isinstance(v, str) or v not in allowed for v in value):
            raise _Refused
        if len(set(value)) != len(value):
            raise _Refused
        return tuple(value)

    def text(self) -> str:
        return "a list of distinct names from " + ", ".join(self._choices())

    def invalid(self) -> Any:
        return ["no-such-name"]


@dataclass(frozen=True)
class Reals(Rule):
    """A list of numbers, each allowed by ``each``."""

    each: Real

    def coerce(self, value: Any) -> tuple[float, ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise _Refused
        return tuple(self.each.coerce(v) for v in value)

    def text(self) -> str:
        return f"a list of numbers{_range_text(self.each.lo, self.each.hi, self.each.lo_open, self.each.hi_open)}"

    def invalid(self) -> Any:
        return ["x"]


@dataclass(frozen=True)
class Strings(Rule):
    """A list of non-empty strings; a single string is read as a list of one."""

    what: str = "strings"

    def coerce(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = (value,)
        if not isinstance(value, (list, tuple)) or any(
            not isinstance(v, str) or not v for v in value
        ):
            raise _Refused
        return tuple(value)

    def text(self) -> str:
        return f"a list of {self.what}"

    def invalid(self) -> Any:
        return [3]


@dataclass(frozen=True)
class Maybe(Rule):
    """None (which means ``meaning``) or a value ``rule`` allows."""

    rule: Rule
    meaning: str = ""

    def coerce(self, value: Any) -> Any:
        return None if value is None else self.rule.coerce(value)

    def text(self) -> str:
        means = f" ({self.meaning})" if self.meaning else ""
        return f"None{means} or {self.rule.text()}"

    def invalid(self) -> Any:
        return self.rule.invalid()


@dataclass(frozen=True)
class AnyOf(Rule):
    """A value any of ``rules`` allows (the first that does canonicalizes it)."""

    rules: tuple[Rule, ...]

    def coerce(self, value: Any) -> Any:
        for r in self.rules:
            try:
                return r.coerce(value)
            except _Refused:
                continue
        raise _Refused

    def text(self) -> str:
        return " or ".join(r.text() for r in self.rules)

    def invalid(self) -> Any:
        return [object()]


def option(default: Any, rule: Rule, *, doc: str = "") -> Any:
    """A dataclass field with its default and its rule (``doc`` is what the option does)."""
    return field(default=default, metadata={"rule": rule, "doc": doc})


def option_from(factory: Callable[[], Any], rule: Rule, *, doc: str = "") -> Any:
    """A dataclass field whose default ``factory()`` gives when an instance is made, with its
    rule: a default read from a registry at call time, so a method registered after import is
    in it (``option_from(lambda: tuple(MITIGATIONS), Names(...))``)."""
    return field(default_factory=factory, metadata={"rule": rule, "doc": doc})


def default_of(f: Any) -> Any:
    """A field's default now: its value, or what its factory gives (None: it has none)."""
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else None


def inferred_rule(default: Any) -> Rule | None:
    """The rule of a field made without :func:`option` (a third-party check's plain field):
    the type of its default (bool, int, float or str), else None (not checked)."""
    if isinstance(default, bool):
        return Bool()
    if isinstance(default, int):
        return Int()
    if isinstance(default, float):
        return Real()
    if isinstance(default, str):
        return Text()
    return None


def _rule(f: Any) -> Rule | None:
    rule = f.metadata.get("rule")
    return rule if rule is not None else inferred_rule(f.default)


def rules_of(cls: type) -> dict[str, Rule]:
    """Every field's rule, by name: its declared one, else the one its default implies."""
    return {f.name: r for f in fields(cls) if (r := _rule(f)) is not None}


def refusal(where: str, name: str, rule: Rule, value: Any) -> InvalidConfigError:
    """The one message for a value an option does not allow; ``where`` names the owner
    (``check 'robustness'``, ``attack 'pgd'``, ``the training recipe``)."""
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return InvalidConfigError(f"option {name!r} of {where} must be {rule.text()}; got {shown}")


def unknown_options(where: str, given: Iterable[str], known: Iterable[str]) -> InvalidConfigError:
    """The one message for option names an owner does not have, listing those it has."""
    have = sorted(known)
    return InvalidConfigError(
        f"{where} has no option(s) {', '.join(sorted(given))}; its options are "
        f"{', '.join(have) if have else 'none'}"
    )


def check_value(where: str, name: str, rule: Rule, value: Any) -> Any:
    """``value`` in its canonical form, or the one message naming the option."""
    try:
        return rule.coerce(value)
    except _Refused:
        raise refusal(where, name, rule, value) from None


def validate_fields(obj: Any, where: str) -> None:
    """Check every field of the frozen dataclass ``obj`` against its rule and store the
    canonical value. A field made without :func:`option` gets the rule its default's type
    implies (:func:`inferred_rule`), or none.

    Raises:
        InvalidConfigError: the first field whose value its rule refuses.
    """
    for f in fields(obj):
        rule = _rule(f)
        if rule is None:
            continue
        value = getattr(obj, f.name)
        object.__setattr__(obj, f.name, check_value(where, f.name, rule, value))


def option_table(cls: type) -> list[dict[str, str]]:
    """name, default, allowed values and doc of every option (for ``rai-audit checks``)."""
    out = []
    for f in fields(cls):
        rule = _rule(f)
        default = default_of(f)
        out.append(
            {
                "name": f.name,
                "default": repr(list(default) if isinstance(default, tuple) else default),
                "allowed": rule.text() if rule is not None else "",
                "doc": f.metadata.get("doc", ""),
            }
        )
    return out


# ---------------------------------------------------------------------- shared rules

#: The device names (``cuda`` may carry an index, ``cuda:1``).
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Device(Rule):
    """A device name: one of :data:`DEVICES`, or ``cuda:N`` (canonical: lower case)."""

    def coerce(self, value: Any) -> str:
        if not isinstance(value, str):
            raise _Refused
        name = value.strip().lower()
        base, colon, index = name.partition(":")
        if base not in DEVICES or (colon and not (base == "cuda" and index.isdigit())):
            raise _Refused
        return name

    def text(self) -> str:
        return "one of " + ", ".join(repr(d) for d in DEVICES) + " (or 'cuda:N')"

    def invalid(self) -> Any:
        return "tpu"


@dataclass(frozen=True)
class Seed(Int):
    """A seed: an integer in [0, 2**63), which NumPy, torch and SQLite all accept."""

    lo: int | None = 0
    hi: int | None = 2**63 - 1

    def text(self) -> str:
        return "an integer in [0, 2**63)"


#: An attack radius in input units (pixels in [0, 1]: 8/255 ~= 0.031), where 0 turns it off.
EPS = Real(lo=0.0)
#: An attack radius the audit measures at: 0 would measure clean accuracy.
POSITIVE_EPS = Real(lo=0.0, lo_open=True)
#: A confidence level of an interval.
CI_LEVEL = Real(lo=0.5, hi=1.0, hi_open=True)

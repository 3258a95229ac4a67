"""The check protocol, the check registry, budgets, and the artifact writer checks save files with.

A check is a frozen, keyword-only dataclass whose fields are its whole configuration, each declared
with :func:`models.options.option` (default and rule) and validated in one place; data enters only through ``run(target, *, seed, artifacts)``, which returns a
frozen result from :mod:`reports.schema`. ``for_budget`` gives the configuration a budget implies.
"""

from __future__ import annotations

import hashlib
import io
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

import numpy as np

from rai_audit.audit.core.yaml_safe import load_yaml
from rai_audit.models.errors import InvalidConfigError
from rai_audit.models.options import (
    Choice,
    Device,
    Seed,
    check_value,
    option,
    unknown_options,
    validate_fields,
)
from rai_audit.reports.schema import Artifact, ResultBase

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from matplotlib.figure import Figure

    from rai_audit.audit.core.target import AuditTarget

BudgetName = Literal["smoke", "standard", "thorough"]
BUDGETS: tuple[str, ...] = ("smoke", "standard", "thorough")


SEED_LIMIT = 2**63
_BUDGET_ATTR = "_rai_audit_budget"  # the budget for_budget built a check for
BUDGET_RULE = Choice(BUDGETS)
SEED_RULE = Seed()


@dataclass(frozen=True, kw_only=True)
class AuditOptions:
    """The audit's own options, declared with their rules as every check option is, so a bad
    value reads the same from the CLI, a config file or the dashboard:
    ``option 'budget' of the audit must be one of 'smoke', 'standard', 'thorough'; got 'huge'``.

    Attributes:
        seed: the base seed of every check.
        budget: how much work each check does (its options for that budget).
        device: where the model runs.
        split_seed: the seed of a data set's train/val/test/holdout split.
    """

    seed: int = option(0, SEED_RULE, doc="the base seed of every check")
    budget: str = option("smoke", BUDGET_RULE, doc="how much work each check does")
    device: str = option("auto", Device(), doc="where the model runs")
    split_seed: int = option(0, SEED_RULE, doc="the seed of a data set's split")

    def __post_init__(self) -> None:
        validate_fields(self, "the audit")


def check_seed(seed: object) -> int:
    """``seed`` if it is an integer in [0, 2**63) (NumPy, torch and SQLite all accept it)."""
    return int(check_value("the audit", "seed", SEED_RULE, seed))


def budget_of(checks: Sequence[Check]) -> str:
    """The budget the checks were configured for: one name, or ``mixed``."""
    names = {c.budget for c in checks}
    return names.pop() if len(names) == 1 else "mixed"


def check_budget(budget: object) -> BudgetName:
    return check_value("the audit", "budget", BUDGET_RULE, budget)


class Artifacts:
    """Writes a check's files under ``<run>/artifacts/<check>/`` and describes them.

    Files are written inside the run's staging folder, so they appear only with a complete run.
    """

    def __init__(self, run_dir: Path, check: str) -> None:
        self.run_dir = Path(run_dir)
        self.check = check
        self.folder = self.run_dir / "artifacts" / check
        self.folder.mkdir(parents=True, exist_ok=True)

    def _artifact(self, name: str, data: bytes, caption: str, media_type: str) -> Artifact:
        if "/" in name or "\\" in name or name.startswith("."):
            raise InvalidConfigError(f"artifact name {name!r} must be a plain file name")
        path = self.folder / name
        path.write_bytes(data)
        rel = path.relative_to(self.run_dir).as_posix()
        return Artifact(
            path=rel,
            sha256=hashlib.sha256(data).hexdigest(),
            caption=caption,
            media_type=media_type,
        )

    def figure(self, fig: Figure, name: str, caption: str) -> Artifact:
        """Save a matplotlib figure as PNG (deterministic bytes) and close it."""
        import matplotlib.pyplot as plt  # noqa: PLC0415

        buf = io.BytesIO()
        try:
            fig.savefig(
                buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None}
            )
        finally:
            plt.close(fig)
        return self._artifact(f"{name}.png", buf.getvalue(), caption, "image/png")

    def arrays(self, name: str, caption: str, **arrays: np.ndarray) -> Artifact:
        """Save numpy arrays as ``.npz`` (no pickled objects)."""
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})  # type: ignore[arg-type]
        return self._artifact(f"{name}.npz", buf.getvalue(), caption, "application/x-npz")

    def text(self, name: str, text: str, caption: str = "") -> Artifact:
        return self._artifact(name, text.encode("utf-8"), caption, "text/plain")


@dataclass(frozen=True, kw_only=True)
class Check(ABC):
    """Base of every audit check. Subclasses are frozen keyword-only dataclasses."""

    name: ClassVar[str]
    title: ClassVar[str]
    order: ClassVar[int] = 100  # report order: performance, explainability, robustness, ...
    budgets: ClassVar[dict[str, dict[str, Any]]] = {}  # budget name -> field values
    path_options: ClassVar[tuple[str, ...]] = ()  # options holding paths (resolved by config)
    #: the last name part of every metric the check can report (``accuracy``,
    #: ``equalized_odds_difference``), against which a policy's rules are validated; None (a
    #: plugin that does not declare them) lets any metric name through
    metric_leaves: ClassVar[frozenset[str] | None] = None
    #: what the check measures and the limits of its numbers, two sentences a reader sees above
    #: the section in the HTML, the PDF and the dashboard (a plugin's; the built-in sections'
    #: are in :data:`reports.narrative.SECTION_GUIDE`)
    guide: ClassVar[tuple[str, str] | None] = None

    @classmethod
    def for_budget(cls, budget: str, **overrides: Any) -> Check:
        """This check configured for ``budget``, with ``overrides`` on top.

        Raises:
            InvalidConfigError: unknown budget or an option the check does not have.
        """
        checked = check_budget(budget)
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise unknown_options(f"check {cls.name!r}", unknown, known)
        check = cls(**{**cls.budget_defaults(checked), **overrides})
        # not an option: where the options came from, under a name no subclass can clash with
        object.__setattr__(check, _BUDGET_ATTR, budget)
        return check

    @property
    def budget(self) -> str:
        """The budget this check was configured for: the one given to :meth:`for_budget`, else
        the budget whose configuration equals this one (the defaults are the smoke budget's),
        else ``custom``."""
        given = getattr(self, _BUDGET_ATTR, None)
        if given is not None:
            return str(given)
        return next((b for b in BUDGETS if self == type(self).for_budget(b)), "custom")

    def __post_init__(self) -> None:
        """Every option against its declared rule (:func:`models.options.option`), one message
        format for every bad value. A subclass that adds cross-option rules calls this first."""
        validate_fields(self, f"check {self.name!r}")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "smoke" in cls.budgets:
            raise TypeError(
                f"{cls.__name__}.budgets names 'smoke': the field defaults are the smoke budget, "
                "so give only the larger budgets"
            )

    @classmethod
    def budget_defaults(cls, budget: BudgetName) -> dict[str, Any]:
        """Field values implied by a budget: none for ``smoke`` (the field defaults are the
        smoke budget, by construction), ``budgets[budget]`` for the larger ones."""
        return dict(cls.budgets.get(budget, {}))

    @classmethod
    def default_policy(cls) -> dict[str, Any]:
        """This check's rules in the default policy, as a policy file's ``rules`` mapping
        (``<name>.<metric>: {min: ..., max: ..., severity: ..., use_ci: ...}``).

        By default the ``rules`` of ``policy.yaml`` beside the check's module, none if there is no
        such file; a check may override this to return them.
        """
        file = getattr(sys.modules.get(cls.__module__), "__file__", None)
        path = Path(file).with_name("policy.yaml") if file else None
        if path is None or not path.is_file():
            return {}
        where = f"the default rules of check {cls.name!r} ({path})"
        data = load_yaml(path.read_text(encoding="utf-8"), where)
        rules = data.get("rules") if isinstance(data, dict) else None
        if not isinstance(rules, dict):
            raise InvalidConfigError(f"{where}: expected a mapping 'rules: {{<metric>: bound}}'")
        return rules

    def skip_reason(self, target: AuditTarget) -> str | None:
        """Why this check does not apply to ``target`` (None if it does)."""
        return None

    def config(self) -> dict[str, Any]:
        """The configuration as JSON values (tuples become lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)
        }

    @abstractmethod
    def run(self, target: AuditTarget, *, seed: int, artifacts: Artifacts) -> ResultBase:
        """Run on ``target`` and return a result (metrics without verdicts)."""


M = TypeVar("M")
J = TypeVar("J")
R = TypeVar("R", bound=ResultBase)


@dataclass(frozen=True, kw_only=True)
class MeasuredCheck(Check, Generic[M, J, R]):
    """A check in three steps, which this base runs in order, as pytorch-grad-cam's ``BaseCAM``
    owns the pass its subclasses customize:

    - :meth:`measure` is the only step that touches the model: it returns a frozen measurement
      (raw numbers and arrays, no model);
    - :meth:`judge` is pure: the measurement in, metrics, tables, warnings and a summary out;
      the policy, applied later by the runner, is the only judge of an outcome;
    - :meth:`render` makes the artifacts (figures, arrays) and assembles the result, with
      :meth:`result` for the fields every result has.
    """

    def run(self, target: AuditTarget, *, seed: int, artifacts: Artifacts) -> R:
        measured = self.measure(target, seed=seed)
        return self.render(measured, self.judge(measured), artifacts)

    @abstractmethod
    def measure(self, target: AuditTarget, *, seed: int) -> M:
        """Run the methods on the model and collect what they measured."""

    @abstractmethod
    def judge(self, measured: M) -> J:
        """Metrics, tables, warnings and the summary, from the measurement alone."""

    @abstractmethod
    def render(self, measured: M, judged: J, artifacts: Artifacts) -> R:
        """Figures and arrays written through ``artifacts``, and the result."""

    def result(
        self,
        kind: type[R],
        judged: Any,
        *,
        figures: Sequence[Artifact] = (),
        **detail: Any,
    ) -> R:
        """The result of this check: its title and configuration, the judgement's summary,
        metrics, tables and warnings (``detail`` may give any of them instead), the figures,
        and the kind's own fields in ``detail``."""
        common = {
            name: getattr(judged, name)
            for name in ("summary", "metrics", "tables", "warnings")
            if hasattr(judged, name)
        }
        return kind(
            title=self.title,
            config=self.config(),
            figures=list(figures),
            **{**common, **detail},
        )


ENTRY_POINT_GROUP = "rai_audit.checks"


class CheckRegistry(Mapping[str, type[Check]]):
    """name -> check class, from the ``rai_audit.checks`` entry-point group.

    The built-in checks are listed there by this package's own metadata, beside the checks that
    other installed packages declare, so the core imports no pillar: a check's module is imported
    the first time its class is asked for. :meth:`names` lists what is registered without importing
    anything (the dashboard lists the checks a new audit can run without loading torch). A plugin
    that fails to import is reported when its check is asked for, and does not stop the others;
    :meth:`register` adds a check defined in a script, a notebook or a test.
    """

    def __init__(self, group: str) -> None:
        self.group = group
        self._classes: dict[str, type[Check]] = {}
        self._entry_points: dict[str, EntryPoint] | None = None
        self.errors: dict[str, str] = {}

    def _declared(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            from importlib.metadata import entry_points  # noqa: PLC0415

            self._entry_points = {ep.name: ep for ep in entry_points(group=self.group)}
        return self._entry_points

    def names(self) -> list[str]:
        """Every registered name (declared or added), sorted, importing nothing."""
        return sorted(set(self._declared()) | set(self._classes))

    def _load(self, name: str) -> None:
        ep = self._declared().get(name)
        if ep is None or name in self._classes or name in self.errors:
            return
        try:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Check)):
                raise TypeError(f"{ep.value} is not a Check subclass")
            if cls.name != ep.name:
                raise TypeError(f"{ep.value} is named {cls.name!r}, its entry point {ep.name!r}")
            self.register(cls)
        except Exception as exc:
            self.errors[name] = f"{type(exc).__name__}: {exc}"

    def register(self, cls: type[Check]) -> type[Check]:
        """Add ``cls`` under ``cls.name`` (usable as a class decorator)."""
        existing = self._classes.get(cls.name)
        if existing is not None and existing is not cls:
            raise InvalidConfigError(f"a check named {cls.name!r} is already registered")
        self._classes[cls.name] = cls
        return cls

    def unregister(self, name: str) -> None:
        """Remove a check added with :meth:`register` (tests clean up with it)."""
        self._classes.pop(name, None)

    def __getitem__(self, name: str) -> type[Check]:
        self._load(name)
        return self._classes[name]

    def __iter__(self) -> Iterator[str]:
        for name in self._declared():
            self._load(name)
        return iter(sorted(self._classes))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"CheckRegistry({self.group!r}, {self.names()})"


#: Every registered check by name: the built-in ones and plugins (entry points), and checks
#: added with :func:`register`.
CHECKS = CheckRegistry(ENTRY_POINT_GROUP)


def register(cls: type[Check]) -> type[Check]:
    """Class decorator adding a check defined outside an installed package to :data:`CHECKS`."""
    return CHECKS.register(cls)


def get_check(name: str) -> type[Check]:
    try:
        return CHECKS[name]
    except KeyError:
        if not CHECKS.names():
            raise InvalidConfigError(
                f"no checks are registered, so {name!r} cannot run: the {ENTRY_POINT_GROUP!r} "
                "entry points come with an installed rai-audit; install it (pip install -e .)"
            ) from None
        broken = "".join(
            f"; the plugin {n!r} failed to load: {e}" for n, e in CHECKS.errors.items()
        )
        raise InvalidConfigError(
            f"unknown check {name!r}: expected one of {', '.join(sorted(CHECKS))}{broken}"
        ) from None


def known_metrics() -> dict[str, frozenset[str] | None]:
    """Check name -> the metric leaves it declares (None: undeclared), for validating policies."""
    return {name: cls.metric_leaves for name, cls in all_checks().items()}


def all_checks() -> dict[str, type[Check]]:
    """Every registered check, in report order (``Check.order``, then name)."""
    return dict(sorted(CHECKS.items(), key=lambda kv: (kv[1].order, kv[0])))

"""Plain-language content shared by the HTML and PDF reports, generated from a report alone.

- :func:`scorecard` one row per gated metric (and per section that did not run);
- :func:`executive_summary` sentences a reviewer reads first;
- :data:`SECTION_GUIDE` what each section measures and the limits of its numbers;
- :func:`model_card` the model card (Mitchell et al., 2019) from the configuration's
  ``model_card`` fields, with the results filled in;
- :func:`ai_act_mapping` findings mapped to the EU AI Act's requirements for high-risk systems.

Nothing here imports torch or the audit package: a saved ``report.json`` is enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rai_audit.reports.schema import AuditReport, Metric, ResultBase

DECISION_TEXT = {
    "no_blocking_findings": "No blocking findings",
    "conditions": "Conditions",
    "blocking_findings": "Blocking findings",
}


def verdict_text(verdict: str | None) -> str:
    """A verdict as a reader sees it: a section no rule gates has no verdict, and says so
    (never Python's ``None``)."""
    return "not gated" if verdict is None else verdict.replace("_", " ")


def decision_lines(
    report: AuditReport, *, limit: int | None = 5
) -> tuple[str, str, list[tuple[str, str]]]:
    """The cover's decision: ``(level, headline, [(kind, text), ...])`` with the blocking
    findings first (most severe first), then the conditions, the sections not assessed (a setup
    problem, never a finding) and the audit's caveats; at most ``limit`` lines of each kind,
    then ``and N more`` (the scorecard has them all). A report written before decisions existed
    shows its overall verdict instead."""
    d = report.decision
    if d is None:
        verdict = (report.verdict or "none").upper()
        return "none", f"{report.manifest.model.name}: overall verdict {verdict}", []
    lines: list[tuple[str, str]] = []
    for kind, items in (
        ("blocking", d.reasons),
        ("condition", d.conditions),
        ("not assessed", d.not_assessed),
        ("audit caveat", d.caveats),
    ):
        shown = items if limit is None else items[:limit]
        lines += [(kind, x) for x in shown]
        if len(items) > len(shown):
            lines.append((kind, f"and {len(items) - len(shown)} more (see the scorecard)"))
    head = f"{report.manifest.model.name}: {DECISION_TEXT[d.level].lower()}"
    return d.level, head, lines


def caveat_rows(report: AuditReport) -> list[ScoreRow]:
    """Every caveat about the audit's own methods, and every finding qualified because it
    rests on a method that did not hold: the list kept apart from the findings."""
    rows = []
    for r in report.results:
        for m in r.metrics:
            if m.outcome is None:
                continue
            if m.about == "method" or m.set_aside or m.qualified:
                rows.append(
                    ScoreRow(
                        section_name(r),
                        m.name,
                        fmt(m.value),
                        ci_text(m),
                        bound_text(m),
                        m.outcome
                        if m.about == "method"
                        else ("qualified" if m.qualified else "set aside"),
                        m.qualified or m.set_aside or m.description,
                    )
                )
    return rows


def fmt(value: float | int | None, digits: int = 4) -> str:
    """Numbers as a reviewer reads them: ints plainly, floats to ``digits`` significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def bound_text(m: Metric) -> str:
    t = m.threshold
    if t is None:
        return ""
    parts = []
    if t.min is not None:
        parts.append(f">= {fmt(t.min)}")
    if t.max is not None:
        parts.append(f"<= {fmt(t.max)}")
    return f"{' and '.join(parts)} ({t.severity}{', on CI' if t.use_ci else ''})"


def ci_text(m: Metric) -> str:
    if m.ci_low is None or m.ci_high is None:
        return ""
    return f"[{fmt(m.ci_low)}, {fmt(m.ci_high)}]"


def section_name(r: ResultBase) -> str:
    return str(getattr(r, "check", None) or r.kind)


@dataclass(frozen=True)
class ScoreRow:
    section: str
    metric: str
    value: str
    ci: str
    threshold: str
    verdict: str
    note: str


def scorecard(report: AuditReport) -> list[ScoreRow]:
    """Every gated metric, and every section that errored or was skipped."""
    rows = []
    for r in report.results:
        if r.status != "ok":
            rows.append(
                ScoreRow(
                    section_name(r),
                    "(section)",
                    "",
                    "",
                    "",
                    r.verdict or "",
                    (r.error or r.summary)[:200],
                )
            )
            continue
        for m in r.metrics:
            if m.verdict is None:
                continue
            rows.append(
                ScoreRow(
                    r.kind,
                    m.name,
                    fmt(m.value),
                    ci_text(m),
                    bound_text(m),
                    m.verdict,
                    m.description,
                )
            )
    return rows


SECTION_GUIDE: dict[str, tuple[str, str]] = {
    "performance": (
        "How often the model is right on held-out data, how its errors spread over the classes, "
        "and whether its confidence can be taken at face value (calibration).",
        "Accuracy on one test split estimates accuracy on data like it; a shifted population "
        "(new site, new period) can differ. The Wilson interval covers sampling noise only.",
    ),
    "explainability": (
        "Which input features drive each decision (Grad-CAM, Integrated Gradients, SHAP, LIME, "
        "saliency) and whether the explanations are faithful: removing the features they rank "
        "highest must hurt the model (deletion/insertion), and they must change when the "
        "model's weights are randomized (Adebayo et al., 2018).",
        "A faithful explanation describes the model, not the world: it can expose a shortcut "
        "but not prove its absence. Scores depend on the baseline and the perturbation used.",
    ),
    "robustness": (
        "Accuracy under worst-case perturbations within an epsilon budget (FGSM, PGD, a "
        "black-box attack), defenses under adaptive attacks, and checks that flag gradient "
        "masking, which makes an undefended-looking model seem robust.",
        "Empirical attacks give an upper bound on robust accuracy, not a certificate. Only the "
        "stated norm and epsilon are covered; natural corruptions and distribution shift are not.",
    ),
    "privacy": (
        "Whether an attacker can tell who was in the training set (membership inference), "
        "reported as the share of members found at a low false-positive rate.",
        "A weak attack result is not a guarantee: stronger attacks may exist. Only differential "
        "privacy bounds leakage; its epsilon is reported when DP-SGD is compared.",
    ),
    "fairness": (
        "Whether the model's decisions and errors differ between groups of people, per "
        "sensitive feature and intersection, with intervals, the definitions side by side, "
        "and mitigations.",
        "Group metrics need the sensitive attributes and enough rows per group; small groups "
        "are reported but not compared. The definitions conflict when base rates differ, so "
        "which one to gate on is a decision about harms, not a statistic.",
    ),
}


def section_guide(r: ResultBase) -> tuple[str, str] | None:
    """What the section measures and the limits of its numbers: a built-in section's from
    :data:`SECTION_GUIDE`, a plugin's from its result (``PluginResult.guide``, which the runner
    fills from the check's ``guide``)."""
    known = SECTION_GUIDE.get(section_name(r))
    if known is not None:
        return known
    given = getattr(r, "guide", None)
    return (str(given[0]), str(given[1])) if given and len(given) == 2 else None


def _worst_metrics(r: ResultBase, limit: int = 3) -> list[Metric]:
    bad = [m for m in r.metrics if m.verdict in ("fail", "error")]
    bad += [m for m in r.metrics if m.verdict == "warn"]
    return bad[:limit]


def _metric_sentence(m: Metric) -> str:
    t = m.threshold
    need = ""
    if t is not None:
        if t.min is not None and (m.value is None or m.value < t.min or t.use_ci):
            need = f"required >= {fmt(t.min)}"
        if t.max is not None and (m.value is None or m.value > t.max or t.use_ci):
            need = f"required <= {fmt(t.max)}"
        if t.use_ci and m.ci_low is not None:
            need += f" for the whole interval [{fmt(m.ci_low)}, {fmt(m.ci_high)}]"
    v = verdict_text(m.verdict)
    return f"{m.name} = {fmt(m.value)} ({need}; {v})" if need else f"{m.name} ({v})"


def executive_summary(report: AuditReport) -> list[str]:
    """Plain sentences: the overall verdict, then one per section with what failed."""
    m = report.manifest
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.verdict or "none"] = counts.get(r.verdict or "none", 0) + 1
    parts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    lines = [
        f"Overall verdict: {(report.verdict or 'none').upper()} for {m.model.name} on "
        f"{m.data.name} under the {'default' if (m.policy or {}).get('source') == 'default' else 'given'} "
        f"policy ({len(report.results)} sections: {parts})."
    ]
    for r in report.results:
        title = r.title
        if r.status == "skipped":
            lines.append(f"{title}: not run ({r.summary})")
            continue
        if r.status == "error":
            lines.append(f"{title}: the check failed to run ({r.error}); treat as not assessed.")
            continue
        text = f"{title} ({verdict_text(r.verdict)}): {r.summary.rstrip('.')}."
        worst = _worst_metrics(r)
        if worst:
            text += " Outside the policy: " + "; ".join(_metric_sentence(x) for x in worst) + "."
        if r.kind == "robustness":
            verified = next((x for x in r.metrics if x.name == "verified"), None)
            robust = next((x for x in r.metrics if x.name == "robust_accuracy"), None)
            if verified is not None and verified.value == 0:
                text += " The robustness number is not verified: a gradient-masking check failed."
            elif robust is not None and robust.verdict in ("fail", "warn"):
                text += " The model is not robust at this budget."
        lines.append(text)
    return lines


def model_card(report: AuditReport) -> list[tuple[str, str]]:
    """(field, text) rows: the configuration's ``model_card`` fields, results filled in."""
    m = report.manifest
    given: dict[str, Any] = dict(m.config.get("model_card") or {})
    rows: list[tuple[str, str]] = [
        (
            "Model",
            f"{m.model.name}: {m.model.arch} ({m.model.source}), "
            f"{fmt(m.model.parameters) if m.model.parameters else 'n/a'} parameters, sha256 "
            f"{m.model.sha256[:16]}...",
        ),
        ("Classes", ", ".join(m.model.class_names)),
        (
            "Intended use",
            str(
                given.get("intended_use")
                or "not stated (set model_card.intended_use in the audit configuration)"
            ),
        ),
        ("Out of scope", str(given.get("out_of_scope") or "not stated")),
        ("Owners", str(given.get("owners") or "not stated")),
        (
            "Data",
            f"{m.data.name} ({m.data.kind}); {m.data.source or 'source not recorded'}; "
            f"splits {', '.join(f'{k} {v}' for k, v in m.data.split_sizes.items())}"
            + (f"; the split: {m.data.split_source}" if m.data.split_source else "")
            + "; every figure is computed on the test split unless it names another (train "
            "for the train-test gap, train and holdout for membership inference)",
        ),
        ("Sensitive features", ", ".join(m.data.sensitive_features) or "none declared"),
    ]
    for r in report.results:
        if r.status == "ok":
            rows.append((f"Result: {r.title}", f"{(r.verdict or '').upper()}: {r.summary}"))
    caveats = [str(c) for c in (given.get("caveats") or [])]
    for r in report.results:
        caveats += [f"{r.title}: {w}" for w in r.warnings[:3]]
    rows.append(("Caveats", " | ".join(caveats) if caveats else "none recorded"))
    return rows


# (requirement, article, sections providing evidence)
_AI_ACT = (
    (
        "Risk management: known and foreseeable risks identified and tested",
        "Art. 9",
        ("performance", "robustness", "privacy", "fairness"),
    ),
    (
        "Data and data governance: relevance, representativeness, examination for biases",
        "Art. 10",
        ("fairness",),
    ),
    (
        "Record-keeping and technical documentation: reproducible evidence",
        "Arts. 11-12",
        ("manifest",),
    ),
    (
        "Transparency: information to deployers on capabilities and limits",
        "Art. 13",
        ("explainability", "performance"),
    ),
    (
        "Human oversight: the overseer can interpret outputs and decide",
        "Art. 14",
        ("explainability",),
    ),
    ("Accuracy: declared levels of accuracy and their metrics", "Art. 15(1)-(3)", ("performance",)),
    (
        "Robustness: resilience to errors and to attempts to alter outputs (adversarial examples)",
        "Art. 15(4)-(5)",
        ("robustness",),
    ),
    (
        "Cybersecurity: confidentiality of training data (membership inference)",
        "Art. 15(5)",
        ("privacy",),
    ),
)


def ai_act_mapping(report: AuditReport) -> list[tuple[str, str, str, str]]:
    """(requirement, article, evidence in this run, status) rows. Evidence, not a legal
    conformity assessment."""
    by_kind = {section_name(r): r for r in report.results}
    rows = []
    for requirement, article, sections in _AI_ACT:
        evidence = []
        statuses = []
        for s in sections:
            if s == "manifest":
                evidence.append("manifest: seeds, versions, hashes, configuration, compute")
                statuses.append("pass")
                continue
            r = by_kind.get(s)
            if r is None:
                evidence.append(f"{s}: not run")
                statuses.append("gap")
            elif r.status != "ok":
                evidence.append(f"{s}: {r.status}")
                statuses.append("gap")
            else:
                evidence.append(f"{s}: {verdict_text(r.verdict)}")
                statuses.append(r.verdict or "pass")
        if "gap" in statuses:
            status = "gap: evidence missing"
        elif "fail" in statuses:
            status = "evidence shows a finding to address"
        elif "warn" in statuses:
            status = "evidence present, with warnings"
        else:
            status = "evidence present"
        rows.append((requirement, article, "; ".join(evidence), status))
    return rows


AI_ACT_NOTE = (
    "This mapping lists which results of this run are evidence for each requirement of "
    "Regulation (EU) 2024/1689 for high-risk AI systems. It is not a conformity assessment: "
    "quality management, post-market monitoring and the deployment context are outside a "
    "model audit."
)


def policy_text(report: AuditReport) -> tuple[str, str, str]:
    """(source, sha256, the whole policy as indented JSON), untruncated, for the appendix."""
    import json  # noqa: PLC0415

    pol = dict(report.manifest.policy or {})
    source = str(pol.pop("source", "none"))
    sha = str(pol.pop("sha256", "not recorded"))
    return source, sha, json.dumps(pol, indent=1, sort_keys=True)


def json_compact(value: Any, limit: int = 1500) -> str:
    """A short JSON rendering for the appendix (sorted keys; cut at ``limit`` characters)."""
    import json  # noqa: PLC0415

    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + " ..."


@dataclass(frozen=True)
class SectionRow:
    section: str
    verdict: str
    passed: int
    warned: int
    failed: int
    finding: str


def section_scorecard(report: AuditReport) -> list[SectionRow]:
    """One row per check: its verdict, how many gated metrics pass, warn and fail, and its most
    severe finding (metric, value with CI, threshold)."""
    rows = []
    for r in report.results:
        gated = [m for m in r.metrics if m.verdict is not None]
        count = {v: sum(m.verdict == v for m in gated) for v in ("pass", "warn", "fail", "error")}
        if r.status != "ok":
            finding = (r.error or r.summary)[:160]
        else:
            worst = _worst_metrics(r, 1)
            if worst:
                w = worst[0]
                ci = f" {ci_text(w)}" if ci_text(w) else ""
                finding = f"{w.name} = {fmt(w.value)}{ci}; threshold {bound_text(w)}"
            else:
                finding = "every gated metric within the policy" if gated else "no gated metric"
        rows.append(
            SectionRow(
                section_name(r),
                r.verdict or "",
                count["pass"],
                count["warn"],
                count["fail"] + count["error"],
                finding,
            )
        )
    return rows


def trust_text(trust: dict[str, Any]) -> str:
    """How far the model file was trusted: what loading its format can run, and any names
    trusted beyond the reviewed list (and who widened it)."""
    if not trust:
        return "not recorded"
    text = str(trust.get("policy", trust.get("format", "")))
    widened = trust.get("widened") or []
    if widened:
        text += f"; TRUST WIDENED by {trust.get('widened_by', 'unknown')}: {', '.join(widened)}"
    return text


def manifest_rows(report: AuditReport) -> list[tuple[str, str]]:
    """The reproducibility appendix: (field, text) rows of the manifest."""
    m = report.manifest
    return [
        ("run id", m.run_id),
        ("created", m.created_at),
        ("command", m.command),
        ("seed", str(m.seed)),
        ("budget", m.budget),
        ("device", m.device),
        ("model", f"{m.model.name} ({m.model.arch}, {m.model.source}) {m.model.path or ''}"),
        ("model sha256", m.model.sha256),
        ("model trust", trust_text(m.model.trust)),
        ("data", f"{m.data.name} ({m.data.kind})"),
        ("data sha256", m.data.sha256),
        ("splits", ", ".join(f"{k}: {v}" for k, v in m.data.split_sizes.items())),
        ("split", m.data.split_source or "not recorded"),
        (
            "split seed",
            "not recorded"
            if m.data.split_seed is None
            else "not used"
            if m.data.split_origin in ("declared", "evaluation")
            else str(m.data.split_seed),
        ),
        ("sensitive features", ", ".join(m.data.sensitive_features) or "none"),
        (
            "class order",
            ", ".join(f"{i}: {c}" for i, c in enumerate(m.data.class_names[:50]))
            + (" ..." if len(m.data.class_names) > 50 else "")
            or "not recorded",
        ),
        ("platform", ", ".join(f"{k} {v}" for k, v in sorted(m.platform.items()))),
        ("versions", ", ".join(f"{k} {v}" for k, v in sorted(m.versions.items()))),
        ("configuration", json_compact(m.config)),
        (
            "policy",
            f"{(m.policy or {}).get('source', 'none')}, sha256 "
            f"{(m.policy or {}).get('sha256', 'not recorded')} (in full below)",
        ),
        ("schema version", report.schema_version),
    ]


COMPUTE_COLUMNS = ("section", "wall time s", "device", "peak memory MB")


def compute_rows(report: AuditReport) -> list[tuple[str, str, str, str]]:
    """What each section cost: wall time, device, peak memory growth."""
    rows = []
    for r in report.results:
        c = r.compute
        rows.append(
            (
                section_name(r),
                f"{c.wall_time_s:.2f}" if c else "",
                c.device if c else "",
                f"{c.peak_rss_mb:.0f}" if c and c.peak_rss_mb is not None else "",
            )
        )
    return rows

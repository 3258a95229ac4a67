"""Leaf-by-leaf difference of two demo runs' report.json files, timing fields left out.

    python bench/report_diff.py OLD/runs NEW/runs

Used to show that a refactor changes no number, verdict, hash or text (issue 13: the demo at
422fbea against the regrouped code, same seed).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

TIMING = ("wall_time", "seconds", "peak_rss", "created_at", "run_id")
RUNS = ("lenet5-digits", "mlp-adult", "mlp-compas")


def flat(o: Any, p: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(o, dict):
        for k, v in o.items():
            yield from flat(v, f"{p}.{k}")
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from flat(v, f"{p}[{i}]")
    else:
        yield p, o


def _columns(report: dict[str, Any]) -> dict[str, list[str]]:
    """Table path -> its columns, to leave out timing columns ("seconds")."""
    out = {}
    for ri, r in enumerate(report["results"]):
        for ti, t in enumerate(r.get("tables", [])):
            out[f".results[{ri}].tables[{ti}]"] = t["columns"]
    return out


def is_timing(key: str, columns: dict[str, list[str]]) -> bool:
    if any(t in key for t in TIMING):
        return True
    head, _, tail = key.partition(".rows[")
    if tail and head in columns:
        col = int(tail.split("][")[1].rstrip("]"))
        return columns[head][col] == "seconds"
    return False


def main(old: str, new: str) -> int:
    for name in RUNS:
        ra = json.load(open(f"{old}/{name}/report.json"))
        rb = json.load(open(f"{new}/{name}/report.json"))
        a, b, cols = dict(flat(ra)), dict(flat(rb)), _columns(rb)
        diff = sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))
        shown = [k for k in diff if not is_timing(k, cols)]
        print(f"== {name}: {len(diff)} leaves differ, {len(diff) - len(shown)} of them timing")
        for k in shown:
            print(f"   {k}: {str(a.get(k, '<absent>'))[:90]} -> {str(b.get(k, '<absent>'))[:90]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

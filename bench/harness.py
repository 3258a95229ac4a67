"""Round-robin benchmark harness: every variant of a row runs in turn in one process.

Each row compares our implementation with the reference library (where one exists) and with the
bare limit, a plain PyTorch loop doing only the necessary passes. Variants alternate within every
repeat, so drift in machine speed affects them alike; medians and ratios to the bare limit are
reported together with the peak resident-memory growth of each variant (sampled).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rai_audit.audit.core.runner import PeakMemory


@dataclass
class Variant:
    name: str
    fn: Callable[[], object]
    role: str = "ours"  # ours | reference | bare
    times: list[float] = field(default_factory=list)
    peak_mb: float = 0.0


@dataclass
class Row:
    title: str
    unit: str
    per: int  # items processed per call (for throughput)
    variants: list[Variant]
    note: str = ""

    def run(self, repeats: int = 5, warmup: int = 1) -> Row:
        for _ in range(warmup):
            for v in self.variants:
                v.fn()
        for _ in range(repeats):
            for v in self.variants:
                with PeakMemory(0.005) as mem:
                    t0 = time.perf_counter()
                    v.fn()
                    v.times.append(time.perf_counter() - t0)
                v.peak_mb = max(v.peak_mb, mem.peak_mb or 0.0)
        return self

    def bare(self) -> Variant:
        return next(v for v in self.variants if v.role == "bare")

    def table(self) -> list[dict[str, object]]:
        bare = statistics.median(self.bare().times)
        out = []
        for v in self.variants:
            med = statistics.median(v.times)
            out.append(
                {
                    "row": self.title,
                    "variant": v.name,
                    "role": v.role,
                    "median_s": med,
                    "per_item_ms": 1000 * med / self.per,
                    "throughput": self.per / med,
                    "x_bare": med / bare,
                    "peak_rss_mb": v.peak_mb,
                    "repeats": len(v.times),
                }
            )
        return out

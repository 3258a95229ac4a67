"""Wall time of ``rai-audit demo`` (smoke budget): cold (training the three models) and warm (reuse)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def demo_times() -> list[dict[str, object]]:
    out = Path(tempfile.mkdtemp(prefix="rai-bench-demo-"))
    rows = []
    try:
        for label, extra in (
            ("cold: train the three models + audit", ["--retrain"]),
            ("warm: reuse cached models + audit", []),
        ):
            t0 = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "rai_audit.audit.cli",
                    "demo",
                    "--out",
                    str(out / "d"),
                    "--quiet",
                    *extra,
                ],
                check=True,
                capture_output=True,
            )
            rows.append(
                {
                    "row": "rai-audit demo --budget smoke",
                    "variant": label,
                    "wall_s": time.perf_counter() - t0,
                }
            )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for r in demo_times():
        print(r)

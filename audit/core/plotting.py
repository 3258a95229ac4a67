"""Selects matplotlib's Agg backend (files only, no display) for every figure the suite draws.

Import this module before ``matplotlib.pyplot`` anywhere a figure is made: the pillars' ``plots``
modules and the dashboard do.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")


def tab10() -> tuple[tuple[float, float, float], ...]:
    """matplotlib's ten categorical colours (``tab10``), as RGB triples."""
    from matplotlib import colormaps  # noqa: PLC0415

    return tuple(colormaps["tab10"].colors)  # type: ignore[attr-defined]

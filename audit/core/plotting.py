"""Selects matplotlib's Agg backend (files only, no display) for every figure the suite draws.

Import this module before ``matplotlib.pyplot`` anywhere a figure is made: the pillars' ``plots``
modules and the dashboard do.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

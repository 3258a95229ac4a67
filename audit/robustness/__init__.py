"""The robustness pillar: attack curves, gradient-masking checks, defenses, and their figures."""

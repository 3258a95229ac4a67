"""The privacy pillar: membership inference tiers, shadow models, defenses, and their figures."""

"""Evasion attacks, defenses and membership inference (methods on tensors; no audit imports)."""

"""Explanation methods and their quality metrics (methods on tensors; no audit imports)."""

"""Benchmarks: ``python -m bench.run`` writes the latest figures into bench/README.md."""

"""Benchmarks: `python -m bench.run` (make bench). Results go to docs/benchmarks.md."""

"""Reproducible performance comparisons: ``make bench`` (``python -m benchmarks``).

See ``docs/performance.md`` for what each row measures and the last recorded run.
"""

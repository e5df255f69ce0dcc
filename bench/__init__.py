"""fastdrum's benchmark suite (pytest-benchmark): the generation backends side by side.

Run it and write the report with ``python -m bench.report`` (see docs/benchmarks.md).
"""

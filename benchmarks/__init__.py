"""The benchmark suite: ``python benchmarks/run.py`` (or ``nox -s bench``). See docs/performance.md."""

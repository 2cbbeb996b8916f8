"""The benchmark harness, ``python -m tests.benchmark.run`` (README, "Performance"); nothing here is a test."""

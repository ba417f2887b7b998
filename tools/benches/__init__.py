"""The benchmarks of ``tools/bench.py``, one module each, and what they share."""

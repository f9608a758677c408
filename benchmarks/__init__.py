"""Benchmarks: advsim's batched engine timed side by side with the naive way (``python -m benchmarks``)."""

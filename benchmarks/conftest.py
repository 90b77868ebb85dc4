"""Benchmarks print throughput; they never fail on speed. Run with `make bench`."""

"""Oracles: how protocols learn prices (push feeds, delayed feeds, TWAPs, medians), with faults."""

from firesale.oracle.feeds import OracleFeed

__all__ = ["OracleFeed"]

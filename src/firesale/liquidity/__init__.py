"""Venues where collateral is sold: AMM pools and off-chain books, vectorized over paths."""

from firesale.liquidity._venue import Venue, VenueState

__all__ = ["Venue", "VenueState"]

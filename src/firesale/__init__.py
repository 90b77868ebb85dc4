"""firesale: stress-test interconnected DeFi protocols for systemic failure."""

from firesale._version import __version__

__all__ = ["__version__"]

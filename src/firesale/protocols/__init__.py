"""Protocol models behind one contract (:mod:`firesale.protocols.base`), vectorized over paths.

- :mod:`~firesale.protocols.base`: the contract every model implements, and the registry of scenario types;
- :mod:`~firesale.protocols.lending_market`: pooled lending (Aave v3, Aave v3.3+, Compound v2 rules);
- :mod:`~firesale.protocols.perps`: perpetual futures venues (margin, funding, liquidation, insurance fund, ADL);
- :mod:`~firesale.protocols.maker`: Maker CDPs with Flipper (2020) or Clipper (Liquidations 2.0) auctions;
- :mod:`~firesale.protocols.liquity`: Liquity v1 troves, stability pool, redistribution, recovery mode;
- :mod:`~firesale.protocols.psm`: a peg stability module (Maker's DssPsm);
- :mod:`~firesale.protocols.terra_market`: Terra's mint/burn market module with Anchor-style deposits;
- :mod:`~firesale.protocols.synthetix`: a Synthetix v2x debt pool (stakers, debt shares, liquidation, sUSD's peg);
- :mod:`~firesale.protocols.lst`: a liquid staking token with a withdrawal queue (stETH);
- :mod:`~firesale.protocols.lending`: its health checks and liquidation selection (NumPy reference, fused kernel);
- :mod:`~firesale.protocols.solvency`: bad debt of a book at given prices;
- :mod:`~firesale.protocols.cohorts`: accounts merged when they behave identically.
"""

from firesale.protocols.base import (
    Accounts,
    Flows,
    IssuedToken,
    LiquidatorCapacity,
    ProtocolModel,
    ProtocolState,
    RoundInputs,
    SaleQuotes,
    protocol_type,
    protocol_types,
    register_protocol,
)
from firesale.protocols.lending import LendingParams, health_factor
from firesale.protocols.lending_market import LendingMarket
from firesale.protocols.liquity import LiquityModel
from firesale.protocols.lst import LiquidStakingToken
from firesale.protocols.maker import MakerModel
from firesale.protocols.perps import PerpVenue
from firesale.protocols.psm import PegStabilityModule
from firesale.protocols.synthetix import SynthetixPool
from firesale.protocols.terra_market import TerraMarket

__all__ = [
    "Accounts",
    "Flows",
    "IssuedToken",
    "LendingMarket",
    "LendingParams",
    "LiquidStakingToken",
    "LiquidatorCapacity",
    "LiquityModel",
    "MakerModel",
    "PegStabilityModule",
    "PerpVenue",
    "ProtocolModel",
    "ProtocolState",
    "RoundInputs",
    "SaleQuotes",
    "SynthetixPool",
    "TerraMarket",
    "health_factor",
    "protocol_type",
    "protocol_types",
    "register_protocol",
]

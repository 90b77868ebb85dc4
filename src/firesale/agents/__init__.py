"""Agents that act on what protocols and venues expose, never on their internals.

- :mod:`~firesale.agents.liquidators`: who liquidates, limited by capital, gas and block space (liquidation
  selection itself is the protocol's rule, judged by these agents' profit test);
- :mod:`~firesale.agents.arbitrageurs`: who pull pools towards the market, capital-limited, to where venues balance;
- :mod:`~firesale.agents.providers`: liquidity providers who withdraw as markets fall and volatility rises
  (evaporation);
- :mod:`~firesale.agents.attackers`: who trade into a pool to move the price an oracle reads.
- :mod:`~firesale.agents.borrowers`: borrowers who top up or repay as their health factor nears 1 (off by default);
- :mod:`~firesale.agents.lenders`: lenders who run on a pool as liquidity dries up and losses appear (off by
  default). Both act through the protocol contract (``borrowers_respond``, ``lenders_withdraw``).
- :mod:`~firesale.agents.holders`: holders of a token outside every protocol (a stablecoin, an LST, a protocol
  token) who sell it through the venues on a global-games cutoff as its discount grows (off by default).
- :mod:`~firesale.agents.searchers`: searchers who contest each liquidation in a priority gas auction (off by
  default), through the liquidators' capacity (gas per liquidation, block space) and their profit.

Every agent has the same shape: built once per batch from the scenario, told about each new step
(``new_step``), and acting on the venue set and market prices the engine passes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firesale.agents.arbitrageurs import Arbitrageurs
    from firesale.agents.attackers import Attackers
    from firesale.agents.borrowers import Borrowers
    from firesale.agents.holders import Holders
    from firesale.agents.lenders import Lenders
    from firesale.agents.liquidators import Liquidators, gas_price_path
    from firesale.agents.providers import LiquidityProviders

__all__ = [
    "Arbitrageurs",
    "Attackers",
    "Borrowers",
    "Holders",
    "Lenders",
    "Liquidators",
    "LiquidityProviders",
    "gas_price_path",
]

# Names load on first use: the scenario schema reads the behaviour agents' specs without importing every agent.
_LAZY = {
    "Arbitrageurs": "firesale.agents.arbitrageurs",
    "Attackers": "firesale.agents.attackers",
    "Borrowers": "firesale.agents.borrowers",
    "Holders": "firesale.agents.holders",
    "Lenders": "firesale.agents.lenders",
    "Liquidators": "firesale.agents.liquidators",
    "LiquidityProviders": "firesale.agents.providers",
    "gas_price_path": "firesale.agents.liquidators",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'firesale.agents' has no attribute {name!r}")

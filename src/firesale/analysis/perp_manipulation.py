"""Who wins and who pays when a perp's index is pushed through thin spot venues (Mango Markets, October 2022).

The attack: a trader holds a large perp position on a venue whose index reads thin spot pools (a ``twap`` oracle on
a pool), pushes those pools with ``[[attacks]]`` (the engine's attacker: it trades into a pool and unwinds later,
``attack_cost_usd`` per path), and takes out the unrealised profit while the index is up (the perp trader's
``withdraws_profit``: Mango v3 let it borrow the venue's deposits against that profit). When the index comes back
the account is bankrupt and the venue's loss waterfall pays: insurance fund, ADL, socialised loss.

:func:`attack_outcome` reads a run's metrics into the three figures of the issue: the attacker's cost, its profit
and the venue's loss, per path. Countermeasures are scenario settings: an open-interest cap
(``markets.*.oi_cap_usd``) bounds the position, hence the profit; a rate-limited index
(``markets.*.index_growth_limit``, Mango v4's stable price) or a slower oracle (a longer TWAP ``window``) bounds how
far the index follows the pushed pools.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from firesale.exceptions import ParameterError

__all__ = ["attack_outcome"]


def attack_outcome(result: Any, protocol: str) -> pd.DataFrame:
    """The attacker's cost and profit and the venue's loss on each path of a manipulation run.

    Parameters
    ----------
    result : SimulationResult or pandas.DataFrame
        A finished run, or its ``metrics`` frame, with the engine's ``attack_cost_usd`` and the perp venue's
        metrics.
    protocol : str
        The perp venue's name.

    Returns
    -------
    pandas.DataFrame
        Per path: ``attack_cost_usd`` (spent on the spot pools less recovered, at market prices),
        ``attacker_gain_usd`` (what the withdrawing traders took out plus their equity left at market prices, less
        what they put in: ``<protocol>.withdrawers_pnl_usd``), ``attacker_profit_usd`` (gain less cost), and
        ``venue_loss_usd`` (deficits paid by the insurance fund, moved onto deleveraged traders, or socialised).

    Examples
    --------
    >>> frame = pd.DataFrame({"attack_cost_usd": [3.0], "v.withdrawers_pnl_usd": [10.0], "v.insurance_paid_usd": [1.0],
    ...                       "v.adl_transfer_usd": [2.0], "v.socialised_loss_usd": [4.0]})
    >>> attack_outcome(frame, "v").iloc[0].tolist()
    [3.0, 10.0, 7.0, 7.0]
    """
    frame = getattr(result, "metrics", result)
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError("The 'result' parameter of attack_outcome must be a SimulationResult or its metrics "
                             f"DataFrame. Got {type(result).__name__} instead.")  # fmt: skip
    need = ["attack_cost_usd"] + [f"{protocol}.{k}" for k in ("withdrawers_pnl_usd", "insurance_paid_usd",
                                                              "adl_transfer_usd", "socialised_loss_usd")]  # fmt: skip
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise ParameterError(f"The 'result' parameter of attack_outcome must have the columns {need} (a run with "
                             f"[[attacks]] and perp venue {protocol!r}). Got none of {missing} instead.")  # fmt: skip
    cost = frame["attack_cost_usd"].to_numpy(dtype=float)
    gain = frame[f"{protocol}.withdrawers_pnl_usd"].to_numpy(dtype=float)
    loss = sum(frame[f"{protocol}.{k}"].to_numpy(dtype=float)
               for k in ("insurance_paid_usd", "adl_transfer_usd", "socialised_loss_usd"))  # fmt: skip
    return pd.DataFrame(
        {"attack_cost_usd": cost, "attacker_gain_usd": gain, "attacker_profit_usd": gain - cost,
         "venue_loss_usd": np.asarray(loss, dtype=float)}, index=frame.index,
    )  # fmt: skip

"""Lido's withdrawal queue (exact integers) and the liquid staking token's rules for one path (plain floats).

:class:`WithdrawalQueue` follows ``WithdrawalQueueBase``: requests are stored with *cumulative* stETH and shares
(``_enqueue``); finalization takes a prefix of the queue with the ETH locked for it and a maximum share rate
(``_finalize``: at most the stETH requested, ``TooMuchEtherToFinalize``); a request's claim is its batch's ETH,
``stETH`` of the request, unless the batch's share rate ``eth * 1e27 / shares`` is above the checkpoint's
``maxShareRate``, when it is ``shares * maxShareRate / 1e27`` (``_calculateClaimableEther``, ``_calcBatch``): so a
holder in the queue gets at most what was requested (no rewards accrue in the queue) and takes any loss (a lower
share rate at finalization). ``requestWithdrawals`` refuses amounts below 100 wei or above 1000 stETH
(``MIN_STETH_WITHDRAWAL_AMOUNT``, ``MAX_STETH_WITHDRAWAL_AMOUNT``).

:class:`LstPath` is the one-path reference of :class:`firesale.protocols.lst.LiquidStakingToken`: the same rules
(module docstring there), one request at a time in Python loops, on a perfectly liquid venue (every unit sold or
bought at the market price); the vectorized model is held to it to 1e-9 relative.

References
----------
lidofinance/lido-dao (commit fb068106): ``contracts/0.8.9/WithdrawalQueue.sol``,
``contracts/0.8.9/WithdrawalQueueBase.sol``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

from firesale.mechanics import Revert

__all__ = [
    "E27_PRECISION_BASE",
    "MAX_STETH_WITHDRAWAL_AMOUNT",
    "MIN_STETH_WITHDRAWAL_AMOUNT",
    "LstPath",
    "WithdrawalQueue",
]

E27_PRECISION_BASE: Final = 10**27
MIN_STETH_WITHDRAWAL_AMOUNT: Final = 100
MAX_STETH_WITHDRAWAL_AMOUNT: Final = 1000 * 10**18
_YEAR: Final = 365.0 * 86_400.0


@dataclass
class WithdrawalQueue:
    """The queue's storage: requests as (cumulative stETH, cumulative shares), checkpoints (first id, max rate)."""

    cumulative: list[tuple[int, int]] = field(
        default_factory=lambda: [(0, 0)]
    )  # index 0: the sentinel request
    last_finalized: int = 0
    checkpoints: list[tuple[int, int]] = field(default_factory=lambda: [(0, 0)])  # index 0 unused
    locked_ether: int = 0
    claimed: set[int] = field(default_factory=set)

    def request(self, amount_steth: int, amount_shares: int) -> int:
        """``requestWithdrawals`` for one amount (``_checkWithdrawalRequestAmount``, ``_enqueue``): the new id."""
        if amount_steth < MIN_STETH_WITHDRAWAL_AMOUNT:
            raise Revert(f"RequestAmountTooSmall({amount_steth})")
        if amount_steth > MAX_STETH_WITHDRAWAL_AMOUNT:
            raise Revert(f"RequestAmountTooLarge({amount_steth})")
        steth, shares = self.cumulative[-1]
        self.cumulative.append((steth + amount_steth, shares + amount_shares))
        return len(self.cumulative) - 1

    def finalize(self, last_id: int, amount_eth: int, max_share_rate: int) -> None:
        """``_finalize``: requests up to ``last_id`` get ``amount_eth``, at most the stETH they asked for."""
        if last_id > len(self.cumulative) - 1 or last_id <= self.last_finalized:
            raise Revert(f"InvalidRequestId({last_id})")
        to_finalize = self.cumulative[last_id][0] - self.cumulative[self.last_finalized][0]
        if amount_eth > to_finalize:
            raise Revert(f"TooMuchEtherToFinalize({amount_eth}, {to_finalize})")
        self.checkpoints.append((self.last_finalized + 1, max_share_rate))
        self.locked_ether += amount_eth
        self.last_finalized = last_id

    def claimable_ether(self, request_id: int) -> int:
        """``_calculateClaimableEther`` with the right checkpoint hint (0 if not finalized or claimed)."""
        if request_id == 0 or request_id > self.last_finalized or request_id in self.claimed:
            return 0
        hint = max(i for i, (first, _) in enumerate(self.checkpoints) if i > 0 and first <= request_id)
        max_rate = self.checkpoints[hint][1]
        (s0, sh0), (s1, sh1) = self.cumulative[request_id - 1], self.cumulative[request_id]
        eth, shares = s1 - s0, sh1 - sh0
        batch_rate = eth * E27_PRECISION_BASE // shares  # _calcBatch
        if batch_rate > max_rate:
            eth = shares * max_rate // E27_PRECISION_BASE
        return eth

    def claim(self, request_id: int) -> int:
        """``_claim``: pays the claimable ether once."""
        if request_id == 0:
            raise Revert("InvalidRequestId(0)")
        if request_id > self.last_finalized:
            raise Revert(f"RequestNotFoundOrNotFinalized({request_id})")
        if request_id in self.claimed:
            raise Revert(f"RequestAlreadyClaimed({request_id})")
        eth = self.claimable_ether(request_id)
        self.claimed.add(request_id)
        self.locked_ether -= eth
        return eth


class LstPath:
    """One path of the liquid staking token model, request by request, on a perfectly liquid venue.

    ``spec`` is a :class:`firesale.protocols.lst.LstSpec`. :meth:`round` returns the round's token flows
    (``buy``, ``sell``, ``minted``, ``burned``).
    """

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.supply = float(spec.supply)
        self.free_usd = math.inf if spec.arbitrage_capital_usd is None else float(spec.arbitrage_capital_usd)
        self.requests: list[
            tuple[float, float, float, float]
        ] = []  # (due, tokens, claim in underlying, cost)
        self.forced_sold = 0.0

    def rate(self, t: float) -> float:
        return self.spec.exchange_rate * (1.0 + self.spec.staking_apr) ** (t / _YEAR)

    def round(self, t: float, price: float, underlying: float, capital: float) -> dict[str, float]:
        s = self.spec
        out = {"buy": 0.0, "sell": 0.0, "minted": 0.0, "burned": 0.0}
        keep = []
        for due, tokens, claim, cost in self.requests:
            if due <= t:
                self.supply -= tokens
                out["burned"] += tokens
                self.free_usd += claim * underlying
            else:
                keep.append((due, tokens, claim, cost))
        self.requests = keep
        r = self.rate(t)
        fair = r * underlying
        due_total = 0.0
        for f in s.forced_sales:
            if t >= f.start_s:
                due_total += f.amount * (
                    1.0 if f.duration_s == 0 else min((t - f.start_s) / f.duration_s, 1.0)
                )
        sold = min(max(min(due_total, s.supply) - self.forced_sold, 0.0), self.supply)
        if sold > 1e-12 * max(s.supply, 1.0):
            self.forced_sold += sold
            out["sell"] += sold
        tau = float(s.withdrawal_delay_s)
        if math.isfinite(tau):
            hurdle = 1.0 + s.hurdle_apr * tau / _YEAR
            if price * hurdle < fair and price * hurdle / fair * (1.0 + 1e-12) <= 1.0:
                queued = sum(q[1] for q in self.requests)
                v = min(max(self.free_usd, 0.0), capital, (self.supply - queued) * price)
                if v > 0:
                    u = v / price
                    self.requests.append((t + tau, u, u * r, v))
                    self.free_usd -= v
                    out["buy"] += u
                    capital -= v
        if s.deposits_open and price > fair and fair / price * (1.0 + 1e-12) <= 1.0 and capital > 0:
            u = capital / fair
            self.supply += u
            out["minted"] += u
            out["sell"] += u
        return out

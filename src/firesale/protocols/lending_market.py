"""A pooled lending market (Aave v3, Aave v3.3+, Compound v2 rules) as a protocol model.

The first implementation of :class:`~firesale.protocols.base.ProtocolModel`. Its state is the accounts' collateral
and debt, ``(n_paths, n_accounts, n_reserves)`` token units; its round is one call of the fused liquidation kernel
(:mod:`firesale.protocols.lending`); its flows are the collateral handed to liquidators (``sell``), the debt they
repay (``buy``) and the protocol's liquidation fee (``kept``). Its books value every account at market prices:
bad debt is debt that no remaining collateral covers, absorbed first by the protocol's reserves and the fees it
earned.

Receipt tokens. A reserve may declare the token its suppliers hold (``receipt_token``, an aToken or cToken) and
the amount supplied (``total_supply``). Bad debt beyond the reserves is a loss to the suppliers of the assets it is
owed in, so each receipt token is worth

.. math:: p_{receipt} = p_{underlying} \\max\\Big(0,\\; 1 - \\frac{U_a}{S_a\\,p_{underlying}}\\Big)

where :math:`U_a` is the uncovered bad debt owed in asset :math:`a` (USD: the account shortfalls split over their
debts by value, scaled by the share the reserves do not cover) and :math:`S_a` its total supply. (Aave v3.3 books
such a loss as a reserve *deficit* and leaves the aToken's index alone until governance covers it; the token's value
to a holder who cannot withdraw what was lent out is what this price measures.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from firesale.protocols.base import (
    Accounts,
    Flows,
    IssuedToken,
    ProtocolModel,
    ProtocolState,
    RoundInputs,
    register_protocol,
)
from firesale.protocols.cohorts import merge_cohorts
from firesale.protocols.lending import (
    RULES_AAVE_V30,
    RULES_AAVE_V33,
    RULES_COMPOUND,
    LendingParams,
    Screen,
    liquidation_round_numba,
    liquidation_round_numpy,
)
from firesale.protocols.solvency import underwater_usd

__all__ = ["LendingMarket", "LendingState"]

_RULES = {"aave_v3": RULES_AAVE_V30, "aave_v3.3": RULES_AAVE_V33, "compound_v2": RULES_COMPOUND}
_KERNELS = {"numba": liquidation_round_numba, "numpy": liquidation_round_numpy}


@dataclass
class LendingState(ProtocolState):
    """Accounts' balances, the kernels' screens, fees earned, and the cumulative flows out (for conservation)."""

    collateral: np.ndarray = None  # type: ignore[assignment]
    debt: np.ndarray = None  # type: ignore[assignment]
    hf_screen: Screen = None  # type: ignore[assignment]
    solvency_screen: Screen = None  # type: ignore[assignment]
    fees_usd: np.ndarray = None  # type: ignore[assignment]

    @property
    def n_paths(self) -> int:
        return int(self.collateral.shape[0])


@register_protocol("firesale.scenario.schema:LendingSpec")
class LendingMarket(ProtocolModel):
    """A pooled lending market: accounts, reserves with their risk parameters, liquidation rules by version."""

    types = ("aave_v3", "aave_v3.3", "compound_v2")

    def __init__(
        self, name: str, assets: tuple[str, ...], oracles: tuple[str, ...], sale_venues: tuple[tuple[str, ...], ...],
        params: LendingParams, collateral0: np.ndarray, debt0: np.ndarray, reserve_usd: float,
        issued: tuple[IssuedToken, ...] = (), total_supply: np.ndarray | None = None, kernel: str = "numba",
        accounts: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        self.name, self.assets, self.oracles, self.sale_venues = name, assets, oracles, sale_venues
        self.params = params
        self.collateral0, self.debt0 = collateral0, debt0
        self.reserve_usd = reserve_usd
        self.issued = issued
        self.total_supply = np.zeros(len(assets)) if total_supply is None else total_supply
        self.kernel = kernel
        self._round = _KERNELS[kernel]
        self.accounts = accounts

    @classmethod
    def build(cls, spec: Any, scenario: Any, **options: Any) -> LendingMarket:
        prices = {a.name: a.price for a in scenario.spec.assets}
        pos = scenario.positions[spec.name]
        names = list(spec.reserves)
        rs = [spec.reserves[n] for n in names]
        lt = np.tile([r.liquidation_threshold for r in rs], (pos.n_accounts, 1))
        bonus = np.tile([r.liquidation_bonus for r in rs], (pos.n_accounts, 1))
        for (
            cid,
            cat,
        ) in spec.emode.items():  # accounts in a category use its threshold and bonus on its collateral
            rows = pos.emode == cid
            for a in cat.collateral:
                lt[rows, names.index(a)] = cat.liquidation_threshold
                bonus[rows, names.index(a)] = cat.liquidation_bonus
        weight = None
        if scenario.spec.simulation.cohorts:
            reserve_prices = np.array([prices[n] for n in names])
            pos, weight, rows = merge_cohorts(pos, lt, reserve_prices, scenario.spec.simulation.cohort_bin)
            first = np.unique(rows, return_index=True)[1]
            lt, bonus = lt[first], bonus[first]
        is_compound = spec.type == "compound_v2"
        params = LendingParams(
            liquidation_threshold=np.ascontiguousarray(lt),
            liquidation_bonus=np.ascontiguousarray(bonus),
            protocol_fee=np.array([_protocol_fee(r) for r in rs]),
            close_factor=spec.close_factor,
            close_factor_hf_threshold=0.0 if is_compound else spec.close_factor_hf_threshold,
            weight=weight,
            fee_on_seized=is_compound,
            rules=_RULES[spec.type],
        )
        issued = tuple(
            IssuedToken(name=r.receipt_token, underlying=n)
            for n, r in zip(names, rs, strict=True)
            if getattr(r, "receipt_token", None)
        )
        supply = np.array([getattr(r, "total_supply", None) or 0.0 for r in rs])
        return cls(
            name=spec.name, assets=tuple(names), oracles=tuple(r.oracle for r in rs),
            sale_venues=tuple(tuple(r.venues) for r in rs), params=params, collateral0=pos.collateral,
            debt0=pos.debt, reserve_usd=spec.reserve_usd, issued=issued, total_supply=supply,
            kernel=options.get("kernel", "numba"), accounts=pos.accounts,
        )  # fmt: skip

    # ----- the contract ---------------------------------------------------------------------------------------------
    def init_state(self, n_paths: int) -> LendingState:
        shape = (n_paths, *self.collateral0.shape)
        # .copy(): a writable C-ordered array even when the broadcast view happens to be contiguous (one path).
        return LendingState(
            collateral=np.broadcast_to(self.collateral0, shape).copy(),
            debt=np.broadcast_to(self.debt0, shape).copy(),
            hf_screen=Screen.empty(*shape),
            solvency_screen=Screen.empty(*shape),
            fees_usd=np.zeros(n_paths),
        )

    def round(self, state: LendingState, inputs: RoundInputs) -> Flows:  # type: ignore[override]
        cap = inputs.liquidators
        out = self._round(
            state.collateral, state.debt, np.ascontiguousarray(inputs.oracle), np.ascontiguousarray(inputs.market),
            self.params, inputs.active, cap.slots, cap.capital_usd, cap.gas_usd, cap.min_profit_usd,
            inputs.quotes.size_usd, inputs.quotes.proceeds, screen=state.hf_screen,
        )  # fmt: skip
        state.solvency_screen.dirty |= out.n_liquidations > 0
        state.fees_usd += (out.fee * inputs.market).sum(axis=1)
        return Flows(
            origin=self.name, sell=out.seized, buy=out.repaid, kept=out.fee, n_actions=out.n_liquidations,
            n_unserved=out.n_unserved, spent_usd=out.repaid_usd,
        )  # fmt: skip

    def account(self, state: LendingState, market: np.ndarray, by_asset: bool = False) -> Accounts:  # type: ignore[override]
        prices = np.ascontiguousarray(market)
        bad = underwater_usd(state.collateral, state.debt, prices, state.solvency_screen)
        by = coll_usd = debt_usd = None
        if by_asset:  # the full books: end of run only (a pass over every account)
            coll_usd = (state.collateral.sum(axis=1) * prices).sum(axis=1)
            debt_usd = (state.debt.sum(axis=1) * prices).sum(axis=1)
            by = self._bad_debt_by_asset(state, prices, bad)
        return Accounts(
            assets_usd=coll_usd, liabilities_usd=debt_usd, bad_debt_usd=bad,
            reserves_usd=self.reserve_usd + state.fees_usd, bad_debt_by_asset=by, fees_usd=state.fees_usd.copy(),
        )  # fmt: skip

    def _bad_debt_by_asset(self, state: LendingState, prices: np.ndarray, bad: np.ndarray) -> np.ndarray:
        """Each underwater account's shortfall split over its debts by value, summed per debt asset."""
        out = np.zeros((state.collateral.shape[0], len(self.assets)))
        paths = np.flatnonzero(bad > 0)
        if paths.size == 0:
            return out
        c, d, p = state.collateral[paths], state.debt[paths], prices[paths]
        debt_val = d * p[:, None, :]
        total_debt = debt_val.sum(axis=2)
        shortfall = np.maximum(total_debt - (c * p[:, None, :]).sum(axis=2), 0.0)
        share = np.divide(debt_val, total_debt[..., None], out=np.zeros_like(debt_val),
                          where=total_debt[..., None] > 0)  # fmt: skip
        out[paths] = (shortfall[..., None] * share).sum(axis=1)
        return out

    def token_prices(
        self, state: LendingState, market: np.ndarray, accounts: Accounts
    ) -> dict[str, np.ndarray]:  # type: ignore[override]
        if not self.issued:
            return {}
        by = accounts.bad_debt_by_asset
        if by is None:
            by = self._bad_debt_by_asset(state, np.ascontiguousarray(market), accounts.bad_debt_usd)
        bad = accounts.bad_debt_usd
        uncovered_share = np.divide(accounts.uncovered_usd, bad, out=np.zeros_like(bad), where=bad > 0)
        out = {}
        for tok in self.issued:
            r = self.assets.index(tok.underlying)
            value = self.total_supply[r] * market[:, r]
            loss = np.divide(by[:, r] * uncovered_share, value, out=np.zeros_like(value), where=value > 0)
            out[tok.name] = market[:, r] * np.maximum(0.0, 1.0 - loss)
        return out

    def check_conservation(self, state: LendingState, out: dict[str, np.ndarray]) -> list[str]:  # type: ignore[override]
        problems = []
        for name, now, start, gone in (
            ("collateral", state.collateral, self.collateral0, out["sold"] + out["kept"]),
            ("debt", state.debt, self.debt0, out["repaid"]),
        ):
            if (now < -1e-9 * np.maximum(start.max(initial=0.0), 1.0)).any():
                problems.append(f"{self.name}: negative {name} balance")
            gap = np.abs(now.sum(axis=1) + gone - start.sum(axis=0))
            tol = 1e-9 * np.maximum(start.sum(axis=0), 1.0)
            if (gap > tol).any():
                problems.append(
                    f"{self.name}: {name} not conserved on {int((gap > tol).any(axis=1).sum())} path(s); "
                    f"largest gap {gap.max():.6g} tokens"
                )
        return problems


def _protocol_fee(reserve: Any) -> float:
    """The protocol's liquidation share: of the bonus (Aave) or of all seized collateral (Compound)."""
    return float(reserve.protocol_fee_fraction)

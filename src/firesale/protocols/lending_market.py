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

from dataclasses import dataclass, replace
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
from firesale.protocols.isolation import Isolation, IsolationState
from firesale.protocols.lending import (
    RULES_AAVE_V30,
    RULES_AAVE_V33,
    RULES_COMPOUND,
    LendingParams,
    Screen,
    candidate_count,
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
    policy: PolicyControls | None = (
        None  # set by the first policy that acts (firesale.policies); None: fast path
    )
    users: UserFlows | None = (
        None  # set by the first behaviour agent that acts (firesale.agents.borrowers, .lenders)
    )
    # (n_paths,) bool, set by a pause_borrowing policy; None: never paused
    borrow_paused: np.ndarray | None = None
    # (n_paths,) int64: accounts (by weight) whose borrow the pause stopped at the latest borrowing; None: none yet
    borrow_stopped: np.ndarray | None = None
    # Aave v3 isolation mode (firesale.protocols.isolation): isolated debt per collateral; None: no debt ceiling
    isolation: IsolationState | None = None

    @property
    def n_paths(self) -> int:
        return int(self.collateral.shape[0])


@dataclass
class PolicyControls:
    """What policies changed on each path (:mod:`firesale.policies`), through the contract's controls.

    ``hf_floor``: 1 where liquidations are allowed, 0 where paused, ``h`` in (0, 1) where only accounts below
    health factor ``h`` may be liquidated. Factors, shape (n_paths, n_reserves), multiply each reserve's liquidation
    threshold, its margin ``1 - threshold`` and its bonus (1: as in the scenario). ``reserve_usd``: first-loss
    capital added to the reserves.
    """

    hf_floor: np.ndarray
    lt_factor: np.ndarray
    margin_factor: np.ndarray
    bonus_factor: np.ndarray
    reserve_usd: np.ndarray


@dataclass
class UserFlows:
    """What borrowers and lenders did on each path (:mod:`firesale.agents.borrowers`, :mod:`firesale.agents.lenders`).

    Tokens (n_paths, n_reserves): ``added`` collateral topped up, ``repaid`` debt repaid by its borrowers,
    ``asked`` supply lenders asked to withdraw, ``withdrawn`` what was paid out, ``queued`` asked and not yet paid.
    ``budget_used`` (n_paths, n_accounts): USD each account spent of its budget. USD (n_paths,): cumulative flows at
    the prices of their step, and the largest queue seen.
    """

    added: np.ndarray
    repaid: np.ndarray
    asked: np.ndarray
    withdrawn: np.ndarray
    queued: np.ndarray
    budget_used: np.ndarray
    topped_up_usd: np.ndarray
    repaid_usd: np.ndarray
    capped_usd: np.ndarray
    withdrawn_usd: np.ndarray
    unserved_peak_usd: np.ndarray
    # [agents.borrowers] borrowing: tokens drawn (n_paths, n_reserves); USD (n_paths,) drawn and stopped by the
    # borrow cap or the liquidity, cumulative at the market prices of their step
    borrowed: np.ndarray | None = None
    borrowed_usd: np.ndarray | None = None
    borrow_refused_usd: np.ndarray | None = None
    # [agents.lenders] supply for the rate: tokens supplied (n_paths, n_reserves); USD (n_paths,) supplied and
    # stopped by the supply caps (lenders_supply). None: none yet
    supplied: np.ndarray | None = None
    supplied_usd: np.ndarray | None = None
    supply_refused_usd: np.ndarray | None = None
    # [agents.borrowers] loop = true through the venues: collateral bought, USD at the market before the trade, and
    # what the venues took above it (the borrowed value less that), (n_paths,). None: none yet
    loop_bought_usd: np.ndarray | None = None
    loop_slippage_usd: np.ndarray | None = None


@register_protocol("firesale.scenario.schema:LendingSpec")
class LendingMarket(ProtocolModel):
    """A pooled lending market: accounts, reserves with their risk parameters, liquidation rules by version."""

    types = ("aave_v3", "aave_v3.3", "compound_v2")

    def __init__(
        self, name: str, assets: tuple[str, ...], oracles: tuple[str, ...], sale_venues: tuple[tuple[str, ...], ...],
        params: LendingParams, collateral0: np.ndarray, debt0: np.ndarray, reserve_usd: float,
        issued: tuple[IssuedToken, ...] = (), total_supply: np.ndarray | None = None, kernel: str = "numba",
        accounts: np.ndarray | None = None, supply_cap: np.ndarray | None = None, users: tuple[str, ...] = (),
        ltv: np.ndarray | None = None, borrow_cap: np.ndarray | None = None, isolation: Isolation | None = None,
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
        self.supply_cap = np.zeros(len(assets)) if supply_cap is None else supply_cap  # 0: no cap (Aave)
        self.users = (
            users  # behaviour agents on in the scenario ("borrowers", "lenders"): their series and metrics
        )
        # Borrowing power (Aave's ltv, e-mode's on its collateral) per account row and reserve; new borrows only
        self.ltv = params.liquidation_threshold if ltv is None else ltv
        self.borrow_cap = np.zeros(len(assets)) if borrow_cap is None else borrow_cap  # 0: no cap (Aave)
        self.isolation = isolation  # debt ceilings (firesale.protocols.isolation); None: no isolated asset

    @classmethod
    def build(cls, spec: Any, scenario: Any, **options: Any) -> LendingMarket:
        prices = {a.name: a.price for a in scenario.spec.assets}
        pos = scenario.positions[spec.name]
        names = list(spec.reserves)
        rs = [spec.reserves[n] for n in names]
        lt = np.tile([r.liquidation_threshold for r in rs], (pos.n_accounts, 1))
        bonus = np.tile([r.liquidation_bonus for r in rs], (pos.n_accounts, 1))
        ltv = np.tile([r.ltv for r in rs], (pos.n_accounts, 1))
        for (
            cid,
            cat,
        ) in spec.emode.items():  # accounts in a category use its threshold and bonus on its collateral
            rows = pos.emode == cid
            for a in cat.collateral:
                lt[rows, names.index(a)] = cat.liquidation_threshold
                ltv[rows, names.index(a)] = cat.ltv
                bonus[rows, names.index(a)] = cat.liquidation_bonus
        weight = None
        if scenario.spec.simulation.cohorts:
            reserve_prices = np.array([prices[n] for n in names])
            pos, weight, rows = merge_cohorts(pos, lt, reserve_prices, scenario.spec.simulation.cohort_bin)
            first = np.unique(rows, return_index=True)[1]
            lt, bonus, ltv = lt[first], bonus[first], ltv[first]
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
        isolation = None if is_compound else Isolation.from_reserves(rs, pos.collateral, pos.debt)
        users = _users_on(spec.name, scenario.spec.agents)
        if isolation is not None and "borrowing" in users:
            users = (*users, "isolation")
        return cls(
            name=spec.name, assets=tuple(names), oracles=tuple(r.oracle for r in rs),
            sale_venues=tuple(tuple(r.venues) for r in rs), params=params, collateral0=pos.collateral,
            debt0=pos.debt, reserve_usd=spec.reserve_usd, issued=issued, total_supply=supply,
            kernel=options.get("kernel", "numba"), accounts=pos.accounts,
            supply_cap=np.array([r.supply_cap or 0.0 for r in rs]), users=users,
            ltv=np.ascontiguousarray(ltv), borrow_cap=np.array([r.borrow_cap or 0.0 for r in rs]), isolation=isolation,
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
            isolation=None if self.isolation is None else self.isolation.init_state(n_paths),
        )

    def round(self, state: LendingState, inputs: RoundInputs) -> Flows:  # type: ignore[override]
        run = self._policy_round if state.policy is not None else self._plain_round
        iso = self.isolation
        if state.isolation is None or iso is None or not iso.rows.size:
            return run(state, inputs)
        # IsolationModeLogic.updateIsolatedDebt: what liquidators repay of isolated accounts lowers the debt
        before = state.debt[:, iso.rows]  # a copy (fancy indexing)
        flows = run(state, inputs)
        iso.liquidated(state.isolation, before, state.debt[:, iso.rows])
        return flows

    def _plain_round(self, state: LendingState, inputs: RoundInputs) -> Flows:
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
        reserves = self.reserve_usd + state.fees_usd
        if state.policy is not None:
            reserves = reserves + state.policy.reserve_usd
        return Accounts(
            assets_usd=coll_usd, liabilities_usd=debt_usd, bad_debt_usd=bad,
            reserves_usd=reserves, bad_debt_by_asset=by, fees_usd=state.fees_usd.copy(),
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

    def account_losses(
        self, state: LendingState, market: np.ndarray, rows: slice = slice(None)
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each account's bad debt and debt at risk on paths ``rows`` at ``market`` prices (of those paths),
        USD, each of shape (n_rows, n_accounts).

        Bad debt is the account's debt value not covered by its collateral value (what :meth:`account` sums
        over accounts). Debt at risk is the part of its starting debt that did not stay a covered loan: the fall
        of its debt since the start (repaid by liquidators; by the borrower too when the borrowers agent is on;
        0 if it grew), plus its bad debt, all valued at ``market``. Call it on a block of paths at a time.
        """
        prices = np.ascontiguousarray(market)
        collateral, owed = state.collateral[rows], state.debt[rows]
        # einsum's own loops, not BLAS: a (paths x reserves) @ (reserves x accounts) product with threads is slower
        coll = np.einsum("par,pr->pa", collateral, prices)
        debt = np.einsum("par,pr->pa", owed, prices)
        repaid = np.maximum(
            np.einsum("ar,pr->pa", self.debt0, prices) - debt, 0.0
        )  # starting debt, less today's
        bad = np.maximum(debt - coll, 0.0)
        return bad, repaid + bad

    def series(self) -> dict[str, str]:
        return {
            "debt_usd": "debt outstanding at market prices, USD",
            "collateral_usd": "collateral held at market prices, USD",
            **{f"debt_within_{k}pct": f"debt of accounts whose health factor at market is below {1 + k / 100:.2f}"
               for k in _NEAR},
            **{k: v for k, (who, v) in _USER_SERIES.items() if who in self.users},
            **{f"utilisation_{n}": f"borrows / supply of {n} (the book's borrows; supply net of withdrawals)"
               for n, s in zip(self.assets, self.total_supply, strict=True) if s > 0},
            **{f"isolated_debt_{n}": f"isolated debt against {n} (Aave's isolationModeTotalDebt / 100: tokens "
               "borrowed in isolation mode, 2 decimals; dollars for USD stablecoins)" for n in self._ceiled()},
        }  # fmt: skip

    def _ceiled(self) -> list[str]:
        """Reserves with a debt ceiling whose isolated debt is recorded (borrowing on; firesale.protocols.isolation)."""
        if self.isolation is None or "isolation" not in self.users:
            return []
        return [n for n, c in zip(self.assets, self.isolation.ceiling, strict=True) if c > 0]

    def record(self, state: LendingState, name: str, market: np.ndarray) -> np.ndarray:  # type: ignore[override]
        coll = state.collateral * market[:, None, :]
        debt = (state.debt * market[:, None, :]).sum(axis=2)
        if name == "debt_usd":
            return debt.sum(axis=1)
        if name == "collateral_usd":
            return coll.sum(axis=(1, 2))
        for k in _NEAR:
            if name == f"debt_within_{k}pct":
                # health factor below 1 + k% <=> threshold-weighted collateral below (1 + k%) * debt
                capacity = (coll * self.params.liquidation_threshold[None]).sum(axis=2)
                return np.where((debt > 0) & (capacity < (1 + k / 100) * debt), debt, 0.0).sum(axis=1)
        if name.startswith("utilisation_") and name in self.series():
            return self._utilisation(state)[name]
        if name.startswith("isolated_debt_") and state.isolation is not None and name in self.series():
            return state.isolation.total[:, self.assets.index(name.removeprefix("isolated_debt_"))] / 100.0
        if name in self.series() and name in _USER_SERIES:
            return self._user_figures(state, market)[name]
        return super().record(state, name, market)

    def metrics(self, state: LendingState, market: np.ndarray) -> dict[str, np.ndarray]:  # type: ignore[override]
        if not self.users:
            return {}
        figures = self._user_figures(state, market)
        keys = [k for k, (who, _) in _USER_SERIES.items() if who in self.users]
        if "lenders" in self.users:
            keys.append("withdrawals_unserved_peak_usd")
        offered = self.series()
        utilisation = {k: v for k, v in self._utilisation(state).items() if k in offered}  # at the end
        isolated = {
            f"isolated_debt_{n}": self.record(state, f"isolated_debt_{n}", market) for n in self._ceiled()
        }
        return {**{k: figures[k] for k in keys}, **utilisation, **isolated}

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
            value = (self.total_supply[r] if state.users is None else self._supply_now(state)[:, r]) * market[
                :, r
            ]
            loss = np.divide(by[:, r] * uncovered_share, value, out=np.zeros_like(value), where=value > 0)
            out[tok.name] = market[:, r] * np.maximum(0.0, 1.0 - loss)
        return out

    # ----- policy controls (firesale.policies) --------------------------------------------------------------------
    @classmethod
    def controls(cls, spec: Any) -> dict[str, str]:
        out = {
            "pause_liquidations": "stop liquidations on a path (accounts below a health factor may go on)",
            "reserve_usd": "first-loss capital added to the reserves, USD",
            "pause_borrowing": "stop new borrows on a path (Aave: borrowing disabled on every reserve)",
        }
        for n in spec.reserves:
            out[f"reserves.{n}.liquidation_threshold"] = f"{n}'s liquidation threshold (e-mode ones included)"
            out[f"reserves.{n}.liquidation_margin"] = (
                f"1 - {n}'s liquidation threshold: scaling it by f sets the "
                "threshold to 1 - f (1 - threshold)"
            )
            out[f"reserves.{n}.liquidation_bonus"] = f"{n}'s liquidation bonus (e-mode ones included)"
            if getattr(spec.reserves[n], "debt_ceiling", None) and spec.type != "compound_v2":
                out[f"reserves.{n}.debt_ceiling"] = (
                    f"{n}'s isolation-mode debt ceiling (PoolConfigurator.setDebtCeiling; truncated to cents, "
                    "at least 0.01)"
                )
        return out

    def _controls(self, state: LendingState) -> PolicyControls:
        if state.policy is None:
            n, r = state.collateral.shape[0], len(self.assets)
            state.policy = PolicyControls(
                np.ones(n), np.ones((n, r)), np.ones((n, r)), np.ones((n, r)), np.zeros(n)
            )
        return state.policy

    def pause_liquidations(
        self, state: LendingState, paused: np.ndarray, below_health_factor: float = 0.0
    ) -> None:  # type: ignore[override]
        c = self._controls(state)
        floor = np.where(paused, float(below_health_factor), 1.0)
        state.hf_screen.dirty |= (
            floor != c.hf_floor
        )  # the screen's health factors were taken with other thresholds
        c.hf_floor = floor

    def scale_parameter(self, state: LendingState, name: str, factor: np.ndarray) -> None:  # type: ignore[override]
        reserve, _, kind = name.removeprefix("reserves.").rpartition(".")
        iso, known = self.isolation, reserve in self.assets
        if kind == "debt_ceiling" and state.isolation is not None and iso is not None and known:
            r = self.assets.index(reserve)
            if name.startswith("reserves.") and iso.ceiling[r] > 0:
                # governance lowers or raises a ceiling: only new borrows read it (ValidationLogic.validateBorrow)
                return iso.scale(state.isolation, r, factor)
        if not name.startswith("reserves.") or reserve not in self.assets or kind not in (
            "liquidation_threshold", "liquidation_margin", "liquidation_bonus"
        ):  # fmt: skip
            return super().scale_parameter(state, name, factor)
        c = self._controls(state)
        arr = {"liquidation_threshold": c.lt_factor, "liquidation_margin": c.margin_factor,
               "liquidation_bonus": c.bonus_factor}[kind]  # fmt: skip
        r = self.assets.index(reserve)
        state.hf_screen.dirty |= arr[:, r] != factor
        arr[:, r] = factor

    def add_reserves(self, state: LendingState, usd: np.ndarray) -> None:  # type: ignore[override]
        self._controls(state).reserve_usd += usd

    def pause_borrowing(self, state: LendingState, paused: np.ndarray) -> None:
        """From now on no new borrow where ``paused`` ((n_paths,) bool; False lifts it): Aave v3
        ``ValidationLogic.validateBorrow`` requires ``borrowingEnabled`` (``PoolConfigurator.setReserveBorrowing``),
        aave/aave-v3-core contracts/protocol/libraries/logic/ValidationLogic.sol. Liquidations, repayments and
        top-ups go on. Kept apart from the liquidation controls, whose round it leaves alone."""
        state.borrow_paused = np.asarray(paused, dtype=bool).copy()

    def frozen_by_pause(self, state: LendingState, oracle: np.ndarray) -> np.ndarray:
        """Accounts (by weight) below health factor 1 at ``oracle`` under the factors in force that the pause keeps
        from liquidation (health factor at or above its floor), per path (int64; 0 where no pause holds). Read by
        :mod:`firesale.policies.runner` for the pause's record; it changes nothing."""
        out = np.zeros(state.collateral.shape[0], dtype=np.int64)
        c = state.policy
        paths = np.flatnonzero(c.hf_floor < 1.0) if c is not None else np.zeros(0, dtype=np.int64)
        if paths.size == 0:
            return out
        oracle = np.ascontiguousarray(oracle)
        key = np.concatenate([c.hf_floor[:, None], c.lt_factor, c.margin_factor, c.bonus_factor], axis=1)
        out[paths] = self._below_one(state, oracle, key, paths)
        partial = paths[c.hf_floor[paths] > 0]  # accounts below the floor may still be liquidated
        if partial.size:
            out[partial] -= self._below_one(state, oracle, key, partial, floor=True)
        return out

    def borrows_stopped(self, state: LendingState) -> np.ndarray:
        """Accounts (by weight) that would have borrowed at the latest borrowing and were stopped by the pause
        (int64, (n_paths,)); read by :mod:`firesale.policies.runner` for the pause's record."""
        if state.borrow_stopped is None:
            return np.zeros(state.collateral.shape[0], dtype=np.int64)
        return state.borrow_stopped.copy()

    def _policy_params(self, row: np.ndarray) -> LendingParams:
        """The parameters of one set of control values (hf floor, then threshold, margin and bonus factors)."""
        n_res = len(self.assets)
        h, ltf, mf, bf = row[0], row[1 : 1 + n_res], row[1 + n_res : 1 + 2 * n_res], row[1 + 2 * n_res :]
        p = self.params
        lt, bonus, cf_threshold = p.liquidation_threshold, p.liquidation_bonus, p.close_factor_hf_threshold
        cols = (ltf != 1.0) | (mf != 1.0) | (bf != 1.0)  # reserves left alone keep their values bit for bit
        if cols.any():
            lt, bonus = lt.copy(), bonus.copy()
            bonus[:, cols] = p.liquidation_bonus[:, cols] * bf[cols]
            new = p.liquidation_threshold[:, cols] * ltf[cols]
            new = np.where(mf[cols] != 1.0, 1.0 - (1.0 - new) * mf[cols], new)
            # Aave's PoolConfigurator: threshold * (1 + bonus) <= 1; a threshold never goes below 0
            new = np.clip(new, 0.0, 1.0 / (1.0 + bonus[:, cols]))
            lt[:, cols] = np.where(p.liquidation_threshold[:, cols] > 0, new, 0.0)
        if h < 1.0:
            # Only accounts below health factor h: thresholds over h make the kernel's HF < 1 mean HF < h, and the
            # close-factor threshold over h keeps the close factor on the true health factor.
            lt, cf_threshold = lt / h, cf_threshold / h
        return replace(p, liquidation_threshold=np.ascontiguousarray(lt), liquidation_bonus=np.ascontiguousarray(bonus),
                       close_factor_hf_threshold=cf_threshold)  # fmt: skip

    def _policy_round(self, state: LendingState, inputs: RoundInputs) -> Flows:
        """The round with policies in force: the kernel once per distinct set of control values, on its paths.

        Paused paths (and, under a partial pause, accounts between the floor and 1) are counted as unserved:
        positions below their threshold that nobody may liquidate.
        """
        c = state.policy
        assert c is not None
        cap = inputs.liquidators
        n, n_res = state.collateral.shape[0], len(self.assets)
        oracle, market = np.ascontiguousarray(inputs.oracle), np.ascontiguousarray(inputs.market)
        key = np.concatenate([c.hf_floor[:, None], c.lt_factor, c.margin_factor, c.bonus_factor], axis=1)
        live = np.flatnonzero(inputs.active & (c.hf_floor > 0))
        rows, group = np.unique(key[live], axis=0, return_inverse=True)
        group = group.reshape(-1)
        held = np.flatnonzero(inputs.active & (c.hf_floor < 1.0))
        below = (
            self._below_one(state, oracle, key, held) if held.size else None
        )  # before anything is liquidated
        seized, fee, repaid = np.zeros((n, n_res)), np.zeros((n, n_res)), np.zeros((n, n_res))
        n_liq, n_unserved, spent = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n)
        for g, row in enumerate(rows):
            mask = np.zeros(n, dtype=bool)
            mask[live[group == g]] = True
            out = self._round(
                state.collateral, state.debt, oracle, market, self._policy_params(row), mask, cap.slots,
                cap.capital_usd, cap.gas_usd, cap.min_profit_usd, inputs.quotes.size_usd, inputs.quotes.proceeds,
                screen=state.hf_screen,
            )  # fmt: skip
            seized += out.seized
            fee += out.fee
            repaid += out.repaid
            n_liq += out.n_liquidations
            n_unserved += out.n_unserved
            spent += out.repaid_usd
        if below is not None:
            n_unserved[held] = below - n_liq[held]
        state.solvency_screen.dirty |= n_liq > 0
        state.fees_usd += (fee * market).sum(axis=1)
        return Flows(origin=self.name, sell=seized, buy=repaid, kept=fee, n_actions=n_liq, n_unserved=n_unserved,
                     spent_usd=spent)  # fmt: skip

    def _below_one(
        self, state: LendingState, oracle: np.ndarray, key: np.ndarray, paths: np.ndarray, floor: bool = False
    ) -> np.ndarray:
        """Accounts below health factor 1 (under the factors in force, no pause) on ``paths``, counted by weight;
        with ``floor``, below the pause's floor instead (those a partial pause lets be liquidated)."""
        out = np.zeros(paths.size, dtype=np.int64)
        weights = self.params.weights()
        rows = key[paths].copy()
        if not floor:
            rows[:, 0] = 1.0
        uniq, group = np.unique(rows, axis=0, return_inverse=True)
        group = group.reshape(-1)
        for g, row in enumerate(uniq):
            sub = paths[group == g]
            coll, debt = state.collateral[sub], state.debt[sub]
            screen = Screen.empty(*coll.shape)
            count = candidate_count(coll, debt, np.ascontiguousarray(oracle[sub]), self._policy_params(row),
                                    np.ones(sub.size, dtype=bool), screen)  # fmt: skip
            mask = np.arange(coll.shape[1])[None, :] < count[:, None]
            out[group == g] = np.where(mask, weights[screen.scratch], 0).sum(axis=1)
        return out

    # ----- behaviour agents (firesale.agents.borrowers, .lenders) -------------------------------------------------
    @classmethod
    def behaviours(cls) -> dict[str, str]:
        return {
            "borrowers": "borrowers below a health factor top up collateral or repay debt; above one (borrowing "
            "on) they draw more debt, within ltv, borrow caps and liquidity",
            "lenders": "suppliers withdraw up to the reserve's liquidity (supply - borrows)",
        }

    def _users(self, state: LendingState) -> UserFlows:
        if state.users is None:
            n, a, r = state.collateral.shape
            z = np.zeros((n, r))
            state.users = UserFlows(z, z.copy(), z.copy(), z.copy(), z.copy(), np.zeros((n, a)), np.zeros(n),
                                    np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), z.copy(), np.zeros(n),
                                    np.zeros(n))  # fmt: skip
        return state.users

    def _supply_now(self, state: LendingState) -> np.ndarray:
        """Supply of each reserve (tokens, (n_paths, n_reserves)): the scenario's ``total_supply`` less what lenders
        withdrew, plus the collateral the book gained (top-ups) or lost (seized) since the start."""
        withdrawn = 0.0 if state.users is None else state.users.withdrawn  # reading it creates no user state
        if (
            state.users is not None and state.users.supplied is not None
        ):  # [agents.lenders] supply for the rate
            withdrawn = withdrawn - state.users.supplied
        return self.total_supply - withdrawn + state.collateral.sum(axis=1) - self.collateral0.sum(axis=0)

    def borrowers_respond(
        self, state: LendingState, oracle: np.ndarray, market: np.ndarray, rule: Any
    ) -> None:  # type: ignore[override]
        """Accounts whose health factor at the oracle is below ``rule.trigger`` and whose draw says so bring it back
        to ``rule.target``, within what is left of their budget: ``top_up`` adds the collateral with the largest
        threshold-weighted value (an Aave ``supply``, stopped at the reserve's ``supply_cap``; top-ups of one step
        share the room pro rata), ``repay`` repays the largest debt (an Aave ``repay``, at most the debt). Bought at
        market, outside the venues (ASSUMPTION: the money held aside is converted off-venue). With
        ``rule.borrow_above`` set, accounts above that health factor first draw more debt (:meth:`_borrow`)."""
        if getattr(rule, "borrow_above", None) is not None:
            self._borrow(state, oracle, market, rule)
        if rule.action == "none":
            return
        u = self._users(state)
        lt = self.params.liquidation_threshold
        value = state.collateral * oracle[:, None, :]
        capacity = (value * lt[None]).sum(axis=2)  # health factor x debt
        debt = (state.debt * oracle[:, None, :]).sum(axis=2)
        p, a = np.nonzero((debt > 0) & (capacity < rule.trigger * debt))
        if p.size:
            go = rule.responds(p, a)
            p, a = p[go], a[go]
        if p.size == 0:
            return
        budget = np.maximum(
            rule.budget_share * (self.collateral0[a] * rule.price0).sum(axis=1) - u.budget_used[p, a], 0
        )
        if rule.action == "top_up":
            r = np.argmax(value[p, a] * lt[a], axis=1)
            per_token = lt[a, r] * oracle[p, r]  # health-factor capacity one token adds
            tokens = np.divide(rule.target * debt[p, a] - capacity[p, a], per_token, out=np.zeros(p.size),
                               where=per_token > 0)  # fmt: skip
            tokens = np.minimum(
                tokens, np.divide(budget, market[p, r], out=np.zeros(p.size), where=market[p, r] > 0)
            )
            capped = self.supply_cap[r] > 0
            if capped.any():  # ValidationLogic.validateSupply: supply + amount <= supplyCap
                room = np.maximum(self.supply_cap - self._supply_now(state), 0.0)
                asked = np.zeros_like(room)
                np.add.at(asked, (p[capped], r[capped]), tokens[capped])
                scale = np.divide(room, asked, out=np.ones_like(room), where=asked > room)
                kept = np.where(capped, tokens * scale[p, r], tokens)
                np.add.at(u.capped_usd, p, (tokens - kept) * market[p, r])
                tokens = kept
            state.collateral[p, a, r] += tokens
            np.add.at(u.added, (p, r), tokens)
            usd = tokens * market[p, r]
            np.add.at(u.topped_up_usd, p, usd)
        else:
            r = np.argmax(state.debt[p, a] * oracle[p], axis=1)
            tokens = np.divide(debt[p, a] - capacity[p, a] / rule.target, oracle[p, r], out=np.zeros(p.size),
                               where=oracle[p, r] > 0)  # fmt: skip
            tokens = np.minimum(tokens, state.debt[p, a, r])
            tokens = np.minimum(
                tokens, np.divide(budget, market[p, r], out=np.zeros(p.size), where=market[p, r] > 0)
            )
            state.debt[p, a, r] -= tokens
            if state.isolation is not None and self.isolation is not None:
                # BorrowLogic.executeRepay -> IsolationModeLogic.updateIsolatedDebtIfIsolated
                self.isolation.repaid(state.isolation, state.collateral[p, a], p, tokens)
            np.add.at(u.repaid, (p, r), tokens)
            usd = tokens * market[p, r]
            np.add.at(u.repaid_usd, p, usd)
        u.budget_used[p, a] += usd
        state.hf_screen.dirty[p] = True  # positions changed: the screens re-check these paths in full
        state.solvency_screen.dirty[p] = True

    def lenders_withdraw(self, state: LendingState, market: np.ndarray, rule: Any) -> None:  # type: ignore[override]
        """Lenders of each reserve with a ``total_supply`` ask to withdraw the share ``rule.share_running(theta)`` of
        its passive supply (``total_supply`` less the book's starting collateral); requests are paid up to the
        liquidity ``supply - borrows`` (Aave: the aToken contract's underlying balance) and the rest waits."""
        u = self._users(state)
        known = self.total_supply > 0
        if not known.any():
            return
        prices = np.ascontiguousarray(market)
        supply, borrows = self._supply_now(state), state.debt.sum(axis=1)
        book = self.account(state, prices)
        by = self._bad_debt_by_asset(state, prices, book.bad_debt_usd)
        bad = book.bad_debt_usd
        uncovered = by * np.divide(book.uncovered_usd, bad, out=np.zeros_like(bad), where=bad > 0)[:, None]
        worth = supply * prices
        loss = np.divide(uncovered, worth, out=np.zeros_like(worth), where=worth > 0)
        theta = np.divide(supply - borrows, supply, out=np.zeros_like(supply), where=supply > 0) - loss
        passive = np.maximum(self.total_supply - self.collateral0.sum(axis=0), 0.0)
        if u.supplied is not None:  # supply that came for the rate is passive supply too
            passive = passive + u.supplied
        new = np.where(known, np.maximum(rule.share_running(theta) * passive - u.asked, 0.0), 0.0)
        u.asked += new
        u.queued += new
        paid = np.minimum(u.queued, np.maximum(supply - borrows, 0.0))
        u.queued -= paid
        u.withdrawn += paid
        u.withdrawn_usd += (paid * prices).sum(axis=1)
        np.maximum(u.unserved_peak_usd, (u.queued * prices).sum(axis=1), out=u.unserved_peak_usd)

    def lenders_supply(self, state: LendingState, market: np.ndarray, rule: Any) -> None:  # type: ignore[override]
        """Outside lenders supply ``rule.supply_wanted(supply, borrows)`` tokens to each reserve (an Aave
        ``supply``), stopped at its ``supply_cap`` as aave/aave-v3-core ``ValidationLogic.validateSupply`` stops a
        supply (``supplyCap == 0 || totalSupply + amount <= supplyCap``): sized to the room left, not reverted."""
        u = self._users(state)
        if u.supplied is None:
            n, r = state.collateral.shape[0], len(self.assets)
            u.supplied, u.supplied_usd, u.supply_refused_usd = np.zeros((n, r)), np.zeros(n), np.zeros(n)
        supply = self._supply_now(state)
        want = np.where(self.total_supply > 0, rule.supply_wanted(supply, state.debt.sum(axis=1)), 0.0)
        capped = self.supply_cap > 0
        got = want.copy()
        got[:, capped] = np.minimum(
            want[:, capped], np.maximum(self.supply_cap[capped] - supply[:, capped], 0.0)
        )
        u.supplied += got
        u.supplied_usd += (got * market).sum(axis=1)
        u.supply_refused_usd += ((want - got) * market).sum(axis=1)

    def _loop_through_venues(self, state: LendingState, rule: Any, p: np.ndarray, r: np.ndarray, c: np.ndarray,
                             got: np.ndarray, planned: np.ndarray, market: np.ndarray) -> np.ndarray:  # fmt: skip
        """A loop's purchase routed by the engine (``rule.swap``, :mod:`firesale.agents.borrowers`): each path's
        borrowed ``r`` tokens of one (debt, collateral) pair are swapped together through the collateral's venues
        (the price moves) and the ``c`` tokens received shared pro rata to what each account borrowed. Returns the
        tokens each account supplies: all it received, except under a supply cap, where at most ``planned`` (the
        purchase at market the borrow was sized on and the cap checked)."""
        u = self._users(state)
        n = state.collateral.shape[0]
        if u.loop_bought_usd is None:
            u.loop_bought_usd, u.loop_slippage_usd = np.zeros(n), np.zeros(n)
        bought = np.zeros(p.size)
        for rr, cc in {(int(x), int(y)) for x, y in zip(r, c, strict=True)}:
            sel = (r == rr) & (c == cc)
            spent = np.bincount(p[sel], weights=got[sel], minlength=n)
            received = rule.swap(rr, cc, spent)
            share = np.divide(got[sel], spent[p[sel]], out=np.zeros(int(sel.sum())), where=spent[p[sel]] > 0)
            bought[sel] = received[p[sel]] * share
        # A venue cheaper than the market gives more than the purchase the borrow was sized on; under a supply cap
        # only what the cap check passed is supplied (the rest stays in the borrower's wallet, outside the model).
        capped = self.supply_cap[c] > 0
        bought[capped] = np.minimum(bought[capped], planned[capped])
        bought_usd, slippage_usd = u.loop_bought_usd, u.loop_slippage_usd  # set above
        assert bought_usd is not None and slippage_usd is not None
        np.add.at(bought_usd, p, bought * market[p, c])
        np.add.at(slippage_usd, p, got * market[p, r] - bought * market[p, c])
        return bought

    def _borrow(self, state: LendingState, oracle: np.ndarray, market: np.ndarray, rule: Any) -> None:
        """Accounts whose health factor at the oracle is above ``rule.borrow_above`` and whose draw says so borrow
        more of their largest debt, back down to health factor ``rule.borrow_target``, as Aave v3
        ``ValidationLogic.validateBorrow`` allows (aave/aave-v3-core contracts/protocol/libraries/logic/
        ValidationLogic.sol): the new debt stays within the borrowing power ``sum collateral x ltv`` at the oracle
        (``collateralNeeded = (debt + amount) / currentLtv <= collateral``; the ltv, not the liquidation threshold),
        the reserve's total debt within its ``borrow_cap`` (``totalDebt <= borrowCap``; 0 is no cap) and the amount
        within its liquidity ``supply - borrows`` (the aToken's underlying balance, which the transfer draws on).
        A transaction over the cap reverts; these borrowers size theirs to the room left, taken first come first
        served in account order (ASSUMPTION: the block's order), so each borrow passes the contract's check.

        Without ``rule.loop`` the tokens borrowed leave the model (ASSUMPTION: spent outside it). With it they buy
        the account's collateral with the largest threshold-weighted value, at market outside the venues
        (ASSUMPTION, as top-ups), supplied first as a flash-loan loop does, so the borrowing power the check sees
        includes it: with ``k`` the oracle value of collateral one oracle dollar of debt buys, the borrow is
        ``X = (C - h D) / (h - lt_c k)`` (health factor ``h`` after it) and at most ``(P - D) / (1 - ltv_c k)``
        (``C``, ``P``, ``D``: threshold-weighted collateral, borrowing power, debt). The supply is new supply: it
        stops at the collateral reserve's ``supply_cap``, shared pro rata as top-ups are, and the borrow shrinks
        with it (room it frees in the borrow cap is left unused this step: conservative).

        An account in Aave's isolation mode (its only collateral has a ``debt_ceiling``) borrows only reserves
        ``borrowable_in_isolation`` and within the ceiling, after the cap (:mod:`firesale.protocols.isolation`)."""
        u = self._users(state)
        value = state.collateral * oracle[:, None, :]
        capacity = (value * self.params.liquidation_threshold[None]).sum(axis=2)  # health factor x debt
        power = (value * self.ltv[None]).sum(axis=2)
        debt_value = state.debt * oracle[:, None, :]
        debt = debt_value.sum(axis=2)
        wants = (debt > 0) & (capacity > rule.borrow_above * debt)
        if state.borrow_paused is not None:
            # the pause's record (firesale.policies.runner): accounts that would borrow now, by weight; the draws
            # are counter-based, so asking them for these accounts changes no one else's
            sp, sa = np.nonzero(wants & state.borrow_paused[:, None])
            go = rule.responds(sp, sa) if sp.size else np.zeros(0, dtype=bool)
            state.borrow_stopped = np.bincount(sp[go], weights=self.params.weights()[sa[go]],
                                               minlength=wants.shape[0]).astype(np.int64)  # fmt: skip
            wants &= ~state.borrow_paused[:, None]
        p, a = np.nonzero(wants)
        if p.size:
            go = rule.responds(p, a)
            p, a = p[go], a[go]
        if p.size == 0:
            return
        r = np.argmax(debt_value[p, a], axis=1)
        h, cap_pa, power_pa, debt_pa = rule.borrow_target, capacity[p, a], power[p, a], debt[p, a]
        if getattr(rule, "loop", False):
            c = np.argmax(value[p, a] * self.params.liquidation_threshold[a], axis=1)
            # oracle value of the collateral that one oracle dollar of debt buys at market
            k = np.divide(market[p, r] * oracle[p, c], market[p, c] * oracle[p, r], out=np.zeros(p.size),
                          where=(market[p, c] > 0) & (oracle[p, r] > 0))  # fmt: skip
            lt_k, ltv_k = self.params.liquidation_threshold[a, c] * k, self.ltv[a, c] * k
            by_hf = np.divide(cap_pa - h * debt_pa, h - lt_k, out=np.full(p.size, np.inf), where=h > lt_k)
            by_ltv = np.divide(
                power_pa - debt_pa, 1.0 - ltv_k, out=np.full(p.size, np.inf), where=ltv_k < 1.0
            )
            usd = np.minimum(by_hf, by_ltv)
        else:
            usd = np.minimum(cap_pa / h, power_pa) - debt_pa
        price = oracle[p, r]
        want = np.divide(np.maximum(usd, 0.0), price, out=np.zeros(p.size), where=price > 0)
        want[~np.isfinite(want)] = 0.0  # a loop nothing bounds (ltv and threshold at or above 1/k): none
        borrows = state.debt.sum(axis=1)
        room = np.maximum(self._supply_now(state) - borrows, 0.0)
        capped = self.borrow_cap > 0
        cap_room = np.maximum(self.borrow_cap[capped] - borrows[:, capped], 0.0)
        room[:, capped] = np.minimum(room[:, capped], cap_room)
        # First come first served within each (path, reserve): what earlier borrowers took leaves less room.
        order = np.lexsort((a, r, p))
        p, a, r, want = p[order], a[order], r[order], want[order]
        iso, isolation = state.isolation, self.isolation
        if iso is not None and isolation is not None:
            # ValidationLogic.validateBorrow in isolation mode: only reserves borrowable in isolation (these wants
            # are refused before they take room in the cap), within the debt ceiling (below)
            want, isolated, iso_asset = isolation.screen_borrows(
                iso, state.collateral[p, a], p, r, want, market
            )
        group = p * len(self.assets) + r
        before = np.cumsum(want) - want
        start = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        before -= np.repeat(before[start], np.diff(np.r_[start, group.size]))
        got = np.clip(room[p, r] - before, 0.0, want)
        np.add.at(u.borrow_refused_usd, p, (want - got) * market[p, r])
        if iso is not None and isolation is not None:
            got = isolation.within_ceiling(iso, p, a, r, got, isolated, iso_asset, market)
        if getattr(rule, "loop", False):
            c = c[order]
            bought = np.divide(got * market[p, r], market[p, c], out=np.zeros(p.size), where=market[p, c] > 0)
            capped_c = self.supply_cap[c] > 0
            # ValidationLogic.validateSupply: supply + amount <= supplyCap, shared pro rata
            if capped_c.any():
                supply_room = np.maximum(self.supply_cap - self._supply_now(state), 0.0)
                asked = np.zeros_like(supply_room)
                np.add.at(asked, (p[capped_c], c[capped_c]), bought[capped_c])
                scale = np.divide(
                    supply_room, asked, out=np.ones_like(supply_room), where=asked > supply_room
                )
                kept = np.where(capped_c, bought * scale[p, c], bought)
                np.add.at(u.capped_usd, p, (bought - kept) * market[p, c])
                shrink = np.divide(kept, bought, out=np.ones(p.size), where=bought > 0)
                got = got * shrink  # a loop's borrow shrinks with its supply
                bought = kept
            if (
                getattr(rule, "swap", None) is not None
            ):  # bought through the venues (firesale.agents.borrowers)
                bought = self._loop_through_venues(state, rule, p, r, c, got, bought, market)
            state.collateral[p, a, c] += bought
            np.add.at(u.added, (p, c), bought)
        state.debt[p, a, r] += got
        if iso is not None and isolation is not None:
            isolation.borrowed(iso, p, got, isolated, iso_asset)  # BorrowLogic.executeBorrow
        np.add.at(u.borrowed, (p, r), got)
        np.add.at(u.borrowed_usd, p, got * market[p, r])
        state.hf_screen.dirty[p] = True  # positions changed: the screens re-check these paths in full
        state.solvency_screen.dirty[p] = True

    def _utilisation(self, state: LendingState) -> dict[str, np.ndarray]:
        """Borrows / supply of every reserve, per path (a drained reserve with borrows: inf; no borrows: 0)."""
        supply, borrows = self._supply_now(state), state.debt.sum(axis=1)
        out = {}
        for r, n in enumerate(self.assets):
            empty = np.where(borrows[:, r] > 0, np.inf, 0.0)  # a drained reserve: 0 / 0 is no borrowing
            out[f"utilisation_{n}"] = np.divide(
                borrows[:, r], supply[:, r], out=empty, where=supply[:, r] > 0
            )
        return out

    def _user_figures(self, state: LendingState, market: np.ndarray) -> dict[str, np.ndarray]:
        u = self._users(state) if state.users is None else state.users
        out = {
            "topped_up_usd": u.topped_up_usd.copy(), "repaid_by_borrowers_usd": u.repaid_usd.copy(),
            "supply_capped_usd": u.capped_usd.copy(), "withdrawn_usd": u.withdrawn_usd.copy(),
            "withdrawals_unserved_usd": (u.queued * market).sum(axis=1),
            "withdrawals_unserved_peak_usd": u.unserved_peak_usd.copy(),
            "borrowed_usd": u.borrowed_usd.copy(), "borrow_refused_usd": u.borrow_refused_usd.copy(),
        }  # fmt: skip
        out.update(_supply_and_loop_figures(u))
        if state.isolation is not None:
            out["debt_ceiling_stopped_usd"] = state.isolation.stopped_usd.copy()
            out["isolation_refused_usd"] = state.isolation.refused_usd.copy()
        return out

    def check_conservation(self, state: LendingState, out: dict[str, np.ndarray]) -> list[str]:  # type: ignore[override]
        problems = []
        for name, now, start, gone in (
            ("collateral", state.collateral, self.collateral0, out["sold"] + out["kept"] - _added(state)),
            (
                "debt",
                state.debt,
                self.debt0,
                out["repaid"] + (0.0 if state.users is None else state.users.repaid - state.users.borrowed),
            ),
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


#: "debt near liquidation" bands recorded as series: health factor within 5, 10 and 20 % of 1
_NEAR = (5, 10, 20)
#: Series of the behaviour agents (firesale.agents.borrowers, .lenders): name -> (agent, description)
_USER_SERIES = {
    "topped_up_usd": (
        "borrowers",
        "collateral borrowers added so far, USD at the prices of the step they did",
    ),
    "repaid_by_borrowers_usd": ("borrowers", "debt borrowers repaid themselves so far, USD"),
    "supply_capped_usd": ("borrowers", "top-ups the supply caps stopped so far, USD"),
    "withdrawn_usd": ("lenders", "supply lenders withdrew so far, USD"),
    "withdrawals_unserved_usd": ("lenders", "withdrawals asked and not paid (no liquidity) now, USD"),
    "borrowed_usd": ("borrowing", "new debt borrowers drew so far, USD at the prices of the step they did"),
    "borrow_refused_usd": ("borrowing", "new borrows the borrow caps or the liquidity stopped so far, USD"),
    "supplied_usd": (
        "supply",
        "supply outside lenders brought for the rate so far, USD at the prices of its step",
    ),
    "supply_refused_usd": ("supply", "supply for the rate the supply caps stopped so far, USD"),
    "loop_bought_usd": (
        "loop",
        "collateral loops bought through the venues so far, USD at the market before each trade",
    ),
    "loop_slippage_usd": (
        "loop",
        "what the venues took from loops above the market value of what they gave, USD",
    ),
    "debt_ceiling_stopped_usd": (
        "isolation",
        "new borrows of accounts in isolation mode the debt ceilings stopped so far, USD at the prices of their step",
    ),
    "isolation_refused_usd": (
        "isolation",
        "new borrows refused to accounts in isolation mode (reserve not borrowable in isolation) so far, USD",
    ),
}


def _users_on(name: str, agents: Any) -> tuple[str, ...]:
    """The behaviour agents of ``agents`` (the scenario's AgentsSpec) that act on protocol ``name``."""
    out = []
    for kind in ("borrowers", "lenders"):
        spec = getattr(agents, kind, None)
        if spec is not None and (spec.protocols is None or name in spec.protocols):
            out.append(kind)
            if kind == "borrowers" and getattr(spec, "borrow_above_health_factor", None) is not None:
                out.append("borrowing")
                if getattr(spec, "loop", False):
                    out.append("loop")
            if kind == "lenders" and getattr(spec, "supply_elasticity", None) is not None:
                out.append("supply")
    return tuple(out)


def _supply_and_loop_figures(u: UserFlows) -> dict[str, np.ndarray]:
    """Supply for the rate and loops through the venues (zeros before either acted)."""
    z = np.zeros(u.topped_up_usd.shape)
    pick = lambda a: z.copy() if a is None else a.copy()  # noqa: E731
    return {"supplied_usd": pick(u.supplied_usd), "supply_refused_usd": pick(u.supply_refused_usd),
            "loop_bought_usd": pick(u.loop_bought_usd), "loop_slippage_usd": pick(u.loop_slippage_usd)}  # fmt: skip


def _added(state: LendingState) -> np.ndarray | float:
    """Collateral borrowers added (tokens, (n_paths, n_reserves)), 0 when none acted."""
    return 0.0 if state.users is None else state.users.added


def _protocol_fee(reserve: Any) -> float:
    """The protocol's liquidation share: of the bonus (Aave) or of all seized collateral (Compound)."""
    return float(reserve.protocol_fee_fraction)

"""Aave v3 isolation mode and debt ceilings, vectorized over paths and accounts.

A reserve with a non-zero *debt ceiling* is an isolated asset. An account is in isolation mode when exactly one
reserve is enabled as its collateral and that reserve has a debt ceiling (``UserConfiguration.getIsolationModeState``,
aave/aave-v3-core contracts/protocol/libraries/configuration/UserConfiguration.sol; the same in aave-dao/
aave-v3-origin v3.3.0 src/contracts/protocol/libraries/configuration/UserConfiguration.sol). In this model the
collateral an account holds is its enabled collateral (the flagship's snapshot counts only collateral enabled as
such), so the rule reads the account's balances: one reserve with a positive balance, and that reserve ceiled.

An account in isolation mode may borrow only reserves flagged *borrowable in isolation*, and only while the
isolated debt of its collateral stays within the ceiling (``ValidationLogic.validateBorrow``, aave-dao/
aave-v3-origin v3.3.0 src/contracts/protocol/libraries/logic/ValidationLogic.sol):

.. math:: T_c + \\lfloor a / 10^{d_r - 2} \\rfloor \\le \\mathrm{ceiling}_c

where :math:`T_c` is ``isolationModeTotalDebt`` of the collateral reserve :math:`c`, :math:`a` the amount borrowed
in the smallest unit of the borrowed reserve :math:`r` (:math:`d_r` its decimals) and the ceiling has 2 decimals
(``ReserveConfiguration.DEBT_CEILING_DECIMALS = 2``, ``MAX_VALID_DEBT_CEILING = 2^40 - 1``, aave/aave-v3-core
contracts/protocol/libraries/configuration/ReserveConfiguration.sol). In token units the increment is the amount
truncated to two decimals, :math:`\\lfloor 100\\,a \\rfloor / 100`: the contract counts *tokens*, not their price, so
the ceiling is in dollars only because governance makes only USD stablecoins borrowable in isolation.

:math:`T_c` grows by that truncated amount on every isolated borrow (``BorrowLogic.executeBorrow``), and falls by
the truncated amount repaid, never below 0 (interest is not counted, so a repay can exceed it):

* on a repay by an account in isolation mode (``BorrowLogic.executeRepay`` calls
  ``IsolationModeLogic.updateIsolatedDebtIfIsolated``, aave-dao/aave-v3-origin v3.3.0 src/contracts/protocol/
  libraries/logic/IsolationModeLogic.sol and BorrowLogic.sol);
* on a liquidation that seizes a ceiled collateral, by the debt the liquidator repaid (``actualDebtToLiquidate``;
  ``LiquidationLogic.executeLiquidationCall`` calls ``IsolationModeLogic.updateIsolatedDebt``, v3.3.0
  src/contracts/protocol/libraries/logic/LiquidationLogic.sol). When the collateral is all seized and the rest of
  the debt becomes a deficit, that rest is *not* taken off :math:`T_c` ("by design as otherwise the debt ceiling
  would render ineffective if a collateral asset faces bad debt events", the same file): here too the account's
  bad debt stays in :math:`T_c`. (Aave v3.0-3.2 take it off through ``updateIsolatedDebtIfIsolated`` on the
  liquidated account's isolation state, aave/aave-v3-core LiquidationLogic.sol; the two rules agree on every state
  Aave can reach, because a ceiled asset is never collateral beside another: ``ValidationLogic.
  validateUseAsCollateral`` refuses it, and the loader refuses such a book.)

The engine's borrowers (:mod:`firesale.agents.borrowers`) size each borrow to what the checks allow, so every
borrow passes them: an isolated account's borrow stops where :math:`T_c` reaches the ceiling, the room shared first
come first served in account order (ASSUMPTION, as the borrow cap's: the block's order), after the borrow cap and
the liquidity have been shared (room in the cap that the ceiling then leaves unused is not handed to later
borrowers in the same step: conservative). A borrower takes the room in whole cents (ASSUMPTION: the contract also
passes the sub-cent remainder of each transaction, which the truncation does not count; under 0.01 token each).
Aave v3.7 removed isolation mode (aave-dao/aave-v3-origin commit 4fbd744 "feat : v3.7.0", DataTypes.sol:
``__deprecatedIsolationModeTotalDebt``); these are the rules of v3.0 to v3.6.

Units. Debt ceilings and :math:`T_c` are held as float64 counts of 0.01 token (exact integers up to 2^53).
Truncation rounds the product ``100 a`` to 6 decimals first, so a float such as 194.39999999999998 (the
float of 194.4) counts 19440 units, not 19439 (ASSUMPTION: below 10^-8 token the float, not the wei, decides).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DEBT_CEILING_DECIMALS",
    "MAX_DEBT_CEILING",
    "Isolation",
    "IsolationState",
    "check_isolation",
    "isolation_mode_state",
    "share_ceiling",
    "to_units",
]

#: ReserveConfiguration.DEBT_CEILING_DECIMALS (aave/aave-v3-core contracts/protocol/libraries/configuration/
#: ReserveConfiguration.sol): the ceiling and isolationModeTotalDebt count hundredths.
DEBT_CEILING_DECIMALS = 2
_SCALE = 10.0**DEBT_CEILING_DECIMALS
#: ReserveConfiguration.MAX_VALID_DEBT_CEILING = 1099511627775 (40 bits) hundredths, in dollars.
MAX_DEBT_CEILING = 1099511627775 / _SCALE


def to_units(tokens: Any) -> np.ndarray:
    """Token amounts as Aave's isolated-debt increments: whole hundredths, truncated (``amount / 10^(d - 2)``).

    Returned as float64 counts of 0.01 token; the product is rounded to 6 decimals before the floor so that the
    float of a two-decimal amount is not truncated a unit short (module docstring)."""
    return np.floor(np.round(np.asarray(tokens, dtype=float) * _SCALE, 6))


def isolation_mode_state(collateral: np.ndarray, ceiled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which accounts are in isolation mode, and on which reserve (``UserConfiguration.getIsolationModeState``).

    Parameters
    ----------
    collateral : ndarray of shape (..., n_reserves)
        Collateral balances (tokens); a positive balance is collateral enabled.
    ceiled : ndarray of shape (n_reserves,), bool
        Reserves with a non-zero debt ceiling.

    Returns
    -------
    isolated : ndarray of shape (...), bool
        Exactly one reserve held as collateral, and it has a debt ceiling.
    asset : ndarray of shape (...), int
        That reserve's index (meaningful where ``isolated``).
    """
    held = collateral > 0
    asset = np.argmax(held, axis=-1)
    isolated = (held.sum(axis=-1) == 1) & ceiled[asset]
    return isolated, asset


def share_ceiling(tokens: np.ndarray, group: np.ndarray, room: np.ndarray) -> np.ndarray:
    """Borrows cut to what the debt ceiling lets through, first come first served within each group.

    ``tokens`` are the borrows in the order they are made, ``group`` their (path, collateral) group (equal groups
    contiguous), ``room`` each borrow's group's ``ceiling - T_c`` in units (negative where governance set the
    ceiling below the debt). Borrow ``i`` passes whole when its truncated units fit in what the earlier ones left;
    the borrow that does not fit takes the room left in whole units; after it the room is 0 and only borrows under
    a unit pass (``T_c + 0 <= ceiling``). Where the room is negative nothing passes."""
    units = to_units(tokens)
    if units.size == 0:
        return tokens.copy()
    start = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    before = np.cumsum(units) - units
    before -= np.repeat(before[start], np.diff(np.r_[start, group.size]))
    # what the earlier borrows of the group left: they took min(their units, room) in all
    left = np.where(room >= 0, np.maximum(room - before, 0.0), room)
    return np.where(units <= left, tokens, np.maximum(left, 0.0) / _SCALE)


@dataclass
class IsolationState:
    """Per path: ``total`` (n_paths, n_reserves), each collateral reserve's isolationModeTotalDebt in units;
    ``ceiling`` (n_paths, n_reserves) the ceilings in force in units (a policy may scale them); USD (n_paths,)
    cumulative at the market prices of their step: borrows the ceilings stopped (``stopped_usd``) and borrows of
    reserves not borrowable in isolation refused to accounts in isolation mode (``refused_usd``)."""

    total: np.ndarray
    ceiling: np.ndarray
    stopped_usd: np.ndarray
    refused_usd: np.ndarray


@dataclass(frozen=True)
class Isolation:
    """A lending market's isolation-mode parameters: ``ceiling`` (n_reserves,) in units (0: not isolated),
    ``borrowable`` (n_reserves,) bool, ``total0`` (n_reserves,) the starting isolationModeTotalDebt in units, and
    the accounts in isolation mode at the start (``rows``) with their collateral reserve (``asset``): the only
    ones that can be (collateral kinds never grow in the model: top-ups and loops add to the account's largest
    collateral), whose liquidations :meth:`liquidated` books."""

    ceiling: np.ndarray
    borrowable: np.ndarray
    total0: np.ndarray
    rows: np.ndarray
    asset: np.ndarray

    @property
    def ceiled(self) -> np.ndarray:
        return self.ceiling > 0

    @classmethod
    def from_reserves(
        cls, reserves: list[Any], collateral0: np.ndarray, debt0: np.ndarray
    ) -> Isolation | None:
        """None when no reserve has a debt ceiling (the market then runs as before, bit for bit).

        The starting isolationModeTotalDebt of a ceiled reserve is its ``isolation_mode_total_debt`` when given
        (the on-chain figure), else the debt of the accounts isolated on it in the book, each (account, reserve)
        debt truncated to units (ASSUMPTION: the book's debt includes accrued interest, which the contract's figure
        does not count, so this is the contract's figure or more: the ceiling binds no later than on chain)."""
        ceiling = np.array([to_units(getattr(r, "debt_ceiling", None) or 0.0) for r in reserves], dtype=float)
        if not (ceiling > 0).any():
            return None
        borrowable = np.array([bool(getattr(r, "borrowable_in_isolation", None)) for r in reserves])
        isolated, asset = isolation_mode_state(collateral0, ceiling > 0)
        rows = np.flatnonzero(isolated)
        book = np.zeros(len(reserves))
        np.add.at(book, asset[rows], to_units(debt0[rows]).sum(axis=1))
        declared = [getattr(r, "isolation_mode_total_debt", None) for r in reserves]
        total0 = np.array([book[k] if d is None else float(to_units(d)) for k, d in enumerate(declared)])
        return cls(ceiling, borrowable, np.where(ceiling > 0, total0, 0.0), rows, asset[rows])

    def init_state(self, n_paths: int) -> IsolationState:
        return IsolationState(
            total=np.tile(self.total0, (n_paths, 1)),
            ceiling=np.tile(self.ceiling, (n_paths, 1)),
            stopped_usd=np.zeros(n_paths),
            refused_usd=np.zeros(n_paths),
        )

    def scale(self, state: IsolationState, r: int, factor: np.ndarray) -> None:
        """Ceiling of reserve ``r`` set to its scenario value times ``factor`` ((n_paths,)), truncated to units
        (governance writes whole hundredths, ``PoolConfigurator.setDebtCeiling``) and kept at 1 unit at least: a
        ceiling of 0 would end isolation (and reset the debt, ``resetIsolationModeTotalDebt``), another action."""
        state.ceiling[:, r] = np.maximum(np.floor(self.ceiling[r] * np.asarray(factor, dtype=float)), 1.0)

    def screen_borrows(
        self, state: IsolationState, collateral: np.ndarray, p: np.ndarray, r: np.ndarray, want: np.ndarray,
        market: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """Borrows of reserve ``r`` wanted by accounts whose collateral is ``collateral`` ((k, n_reserves)) on paths
        ``p``: those of accounts in isolation mode whose reserve is not borrowable in isolation are refused
        (``ASSET_NOT_BORROWABLE_IN_ISOLATION``) and counted in ``refused_usd``. Returns the wants left, which are
        isolated, and their collateral reserve."""
        isolated, asset = isolation_mode_state(collateral, self.ceiled)
        blocked = isolated & ~self.borrowable[r]
        if blocked.any():
            np.add.at(state.refused_usd, p[blocked], want[blocked] * market[p[blocked], r[blocked]])
            want = np.where(blocked, 0.0, want)
        return want, isolated, asset

    def within_ceiling(
        self, state: IsolationState, p: np.ndarray, a: np.ndarray, r: np.ndarray, got: np.ndarray,
        isolated: np.ndarray, asset: np.ndarray, market: np.ndarray,
    ) -> np.ndarray:  # fmt: skip
        """``got`` (tokens of reserve ``r``, by account ``a`` on path ``p``) cut where an isolated account's
        borrow would take its collateral's isolated debt over the ceiling (``DEBT_CEILING_EXCEEDED``); the cut is
        counted in ``stopped_usd`` at ``market``."""
        k = np.flatnonzero(isolated & (got > 0))
        if k.size == 0:
            return got
        order = np.lexsort((a[k], asset[k], p[k]))  # by path, then collateral, in account order
        k = k[order]
        n_res = state.total.shape[1]
        group = p[k] * n_res + asset[k]
        room = state.ceiling[p[k], asset[k]] - state.total[p[k], asset[k]]
        out = got.copy()
        out[k] = share_ceiling(got[k], group, room)
        np.add.at(state.stopped_usd, p[k], (got[k] - out[k]) * market[p[k], r[k]])
        return out

    def borrowed(self, state: IsolationState, p: np.ndarray, tokens: np.ndarray, isolated: np.ndarray,
                 asset: np.ndarray) -> None:  # fmt: skip
        """``BorrowLogic.executeBorrow``: each isolated borrow adds its truncated amount to ``T_c``."""
        if isolated.any():
            np.add.at(state.total, (p[isolated], asset[isolated]), to_units(tokens[isolated]))

    def repaid(
        self, state: IsolationState, collateral: np.ndarray, p: np.ndarray, tokens: np.ndarray
    ) -> None:
        """``IsolationModeLogic.updateIsolatedDebtIfIsolated`` on a repay of ``tokens`` by accounts whose collateral
        is ``collateral`` ((k, n_reserves)) on paths ``p``: ``T_c`` falls by the truncated amount, floored at 0."""
        isolated, asset = isolation_mode_state(collateral, self.ceiled)
        self._reduce(state, p[isolated], asset[isolated], to_units(tokens[isolated]))

    def liquidated(self, state: IsolationState, debt_before: np.ndarray, debt_after: np.ndarray) -> None:
        """``IsolationModeLogic.updateIsolatedDebt`` on the liquidations of a round: ``debt_before`` and
        ``debt_after`` are the debts (n_paths, len(rows), n_reserves) of the accounts isolated at the start, before
        and after the round; what the liquidators repaid (their difference) is taken off their collateral's
        ``T_c``, each (account, debt reserve) truncated (one liquidation per pair and round; ASSUMPTION: several
        would each truncate, a unit at most apart)."""
        units = to_units(np.maximum(debt_before - debt_after, 0.0)).sum(axis=2)  # (n_paths, n_rows)
        p, j = np.nonzero(units)
        if p.size:
            self._reduce(state, p, self.asset[j], units[p, j])

    @staticmethod
    def _reduce(state: IsolationState, p: np.ndarray, asset: np.ndarray, units: np.ndarray) -> None:
        # Floored at 0 after each repay; all amounts are >= 0, so flooring once after the sum is the same.
        if p.size:
            np.subtract.at(state.total, (p, asset), units)
            np.maximum(state.total, 0.0, out=state.total)


def check_isolation(scenario: Any) -> list[str]:
    """``debt_ceiling``, ``borrowable_in_isolation`` and ``isolation_mode_total_debt`` of every lending market
    against the scenario: one ``FILE: key.path: rule, got VALUE`` line per problem. Each key must act: a ceiling
    only stops new borrows (``[agents.borrowers]`` borrowing on the market) of accounts isolated on it."""
    from firesale.agents.borrowers import borrows_on
    from firesale.scenario.schema import LendingSpec

    source, spec = scenario.source, scenario.spec
    out: list[str] = []
    for p in spec.protocols:
        if not isinstance(p, LendingSpec):
            continue
        names = list(p.reserves)
        given = {
            k: {n: getattr(r, k) for n, r in p.reserves.items() if getattr(r, k, None) is not None}
            for k in ("debt_ceiling", "borrowable_in_isolation", "isolation_mode_total_debt")
        }
        if not any(given.values()):
            continue
        where = f"{source}: protocols.{p.name}.reserves"
        if p.type == "compound_v2":
            for k, values in given.items():
                for n, v in values.items():
                    out.append(f"{where}.{n}.{k}: is Aave v3's isolation mode; compound_v2 has none, remove it, "
                               f"got {v!r}")  # fmt: skip
            continue
        book = scenario.positions.get(p.name)
        on = borrows_on(scenario, p.name)
        ceilings = {n: v for n, v in given["debt_ceiling"].items() if v > 0}
        isolated_on: dict[str, np.ndarray] = {}
        if book is not None:
            held = book.collateral > 0
            for n in ceilings:
                c = names.index(n)
                alone = held[:, c] & (held.sum(axis=1) == 1)
                beside = held[:, c] & (held.sum(axis=1) > 1)
                isolated_on[n] = alone
                if beside.any():
                    who = ", ".join(str(x) for x in book.accounts[beside][:3])
                    out.append(f"{where}.{n}.debt_ceiling: {int(beside.sum())} account(s) of {p.name} ({who}) post "
                               f"{n} beside other collateral, which Aave v3 does not allow for an isolated asset "
                               f"(ValidationLogic.validateUseAsCollateral: a ceiled reserve is enabled only as the "
                               f"sole collateral); give them {n} or the rest, got {ceilings[n]!r}")  # fmt: skip
        for n, v in given["debt_ceiling"].items():
            key = f"{where}.{n}.debt_ceiling"
            if v == 0:
                out.append(f"{key}: 0 is Aave's 'not an isolated asset', the same as leaving the key out; remove it, "
                           f"got {v!r}")  # fmt: skip
                continue
            if abs(v * _SCALE - round(v * _SCALE)) > 1e-6 * max(1.0, v * _SCALE):
                out.append(f"{key}: must be whole cents (Aave's debt ceiling has {DEBT_CEILING_DECIMALS} decimals, "
                           f"ReserveConfiguration.DEBT_CEILING_DECIMALS), got {v!r}")  # fmt: skip
            if not on:
                out.append(f"{key}: has no effect: only new borrows ([agents.borrowers] with "
                           f"borrow_above_health_factor on {p.name}) are checked against it, so without them a "
                           f"ceiling never binds; remove it, got {v!r}")  # fmt: skip
            elif n in isolated_on and not isolated_on[n].any():
                out.append(f"{key}: has no effect: no account of {p.name} posts {n} as its only collateral (isolation "
                           f"mode, UserConfiguration.getIsolationModeState); remove it, got {v!r}")  # fmt: skip
        for n, v in given["borrowable_in_isolation"].items():
            key = f"{where}.{n}.borrowable_in_isolation"
            if not v:
                out.append(
                    f"{key}: false is the default (Aave's: not borrowable in isolation); remove it, got {v!r}"
                )
            elif not ceilings:
                out.append(f"{key}: has no effect: no reserve of {p.name} has a debt_ceiling, so no account is in "
                           f"isolation mode; remove it, got {v!r}")  # fmt: skip
            elif on and book is not None and isolated_on:
                iso = np.logical_or.reduce(list(isolated_on.values()))
                if not book.debt[iso, names.index(n)].any():
                    out.append(f"{key}: has no effect: borrowers draw more of their largest debt and no account in "
                               f"isolation mode owes {n}; remove it, got {v!r}")  # fmt: skip
        for n, v in given["isolation_mode_total_debt"].items():
            key = f"{where}.{n}.isolation_mode_total_debt"
            if n not in ceilings:
                out.append(f"{key}: is the isolated debt against a reserve with a debt_ceiling; {n} has none, got "
                           f"{v!r}")  # fmt: skip
            elif abs(v * _SCALE - round(v * _SCALE)) > 1e-6 * max(1.0, v * _SCALE):
                out.append(f"{key}: must be whole cents (Aave's isolationModeTotalDebt has "
                           f"{DEBT_CEILING_DECIMALS} decimals), got {v!r}")  # fmt: skip
    return out

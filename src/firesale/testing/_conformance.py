"""The conformance suite every protocol model passes, as scikit-learn's ``check_estimator`` proves estimators.

:func:`check_protocol_model` drives a model through the contract of :mod:`firesale.protocols.base` exactly as the
engine does, on hand-made prices, and fails with the name of the check and what it saw.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from firesale.exceptions import ParameterError
from firesale.protocols.base import Flows, LiquidatorCapacity, ProtocolModel, RoundInputs, SaleQuotes

__all__ = ["check_protocol_model", "flat_quotes"]

_SIZES = np.concatenate([[0.0], np.logspace(0, 12, 25)])


def flat_quotes(n_paths: int, n_assets: int, pay: float = 1.0) -> SaleQuotes:
    """Quotes of venues that pay ``pay`` times the market value for any size (``pay = 0``: no liquidity at all)."""

    def proceeds(paths: np.ndarray, held: np.ndarray | None = None) -> np.ndarray:
        return np.broadcast_to(_SIZES * pay, (n_paths, n_assets, _SIZES.size)).copy()

    return SaleQuotes(_SIZES, proceeds)


class _Driver:
    def __init__(self, model: ProtocolModel, prices: np.ndarray, n_paths: int) -> None:
        self.model, self.n = model, n_paths
        self.k = len(model.assets)
        self.prices = np.broadcast_to(np.asarray(prices, dtype=float), (n_paths, self.k)).copy()
        self.state = model.init_state(n_paths)
        flows = ("sold", "kept", "repaid", "minted", "burned")
        self.out = {name: np.zeros((n_paths, self.k)) for name in flows}
        self.time = 0.0

    def round(self, prices: np.ndarray, quotes: SaleQuotes | None = None, capital: float = 1e15) -> Flows:
        n = self.n
        inputs = RoundInputs(
            time=self.time, oracle=prices.copy(), market=prices.copy(), active=np.ones(n, dtype=bool),
            liquidators=LiquidatorCapacity(
                slots=np.full(n, 10**9, dtype=np.int64), capital_usd=np.full(n, capital), gas_usd=np.zeros(n),
                min_profit_usd=0.0,
            ),
            quotes=quotes if quotes is not None else flat_quotes(n, self.k),
        )  # fmt: skip
        self.time += 300.0
        flows = self.model.round(self.state, inputs)
        for name, arr in (("sold", flows.sell), ("kept", flows.kept), ("repaid", flows.buy),
                          ("minted", flows.minted), ("burned", flows.burned)):  # fmt: skip
            if arr is not None:  # None: nothing minted or burned
                self.out[name] += arr
        return flows


def _fail(check: str, what: str) -> None:
    raise AssertionError(f"check_protocol_model: {check}: {what}")


def _check_flows(check: str, flows: Flows, n: int, k: int) -> None:
    if not isinstance(flows, Flows):
        _fail(check, f"round must return Flows, got {type(flows).__name__}")
    for name in ("sell", "buy", "kept", "minted", "burned"):
        arr = getattr(flows, name)
        if arr is None and name in ("minted", "burned"):
            continue
        if arr.shape != (n, k) or arr.dtype != np.float64:
            _fail(check, f"Flows.{name} must be float64 of shape {(n, k)}, got {arr.dtype} {arr.shape}")
        if not np.isfinite(arr).all():
            _fail(check, f"Flows.{name} holds NaN or inf")
        if (arr < 0).any():
            _fail(check, f"Flows.{name} must be non-negative, got {arr.min()}")
    for name in ("n_actions", "n_unserved"):
        arr = getattr(flows, name)
        if arr.shape != (n,) or arr.dtype.kind != "i":
            _fail(check, f"Flows.{name} must be an int array of shape {(n,)}, got {arr.dtype} {arr.shape}")


def _settle(d: _Driver, prices: np.ndarray, check: str, rounds: int = 50) -> list[Flows]:
    out = []
    for _ in range(rounds):
        flows = d.round(prices)
        _check_flows(check, flows, d.n, d.k)
        out.append(flows)
        problems = d.model.check_conservation(d.state, d.out)
        if problems:
            _fail(check, "; ".join(problems))
        if not flows.acted.any():
            return out
    _fail(check, f"still acting after {rounds} rounds at unchanged prices")
    return out


def check_protocol_model(
    model: ProtocolModel | Callable[[], ProtocolModel],
    prices: np.ndarray,
    *,
    shock: float = 0.6,
    n_paths: int = 6,
    bad_specs: list[tuple[Callable[[], Any], str]] = (),  # type: ignore[assignment]
) -> list[str]:
    """Run the conformance checks on a protocol model; return the names of the checks passed.

    Parameters
    ----------
    model : ProtocolModel or callable
        The model (or a factory returning a fresh one).
    prices : array_like of shape (n_assets,)
        Starting USD prices of the model's assets (``model.assets`` order).
    shock : float
        Prices are multiplied by this to make the model act (a crash for a lending market).
    n_paths : int
    bad_specs : list of (callable, str)
        Calls that must raise :class:`firesale.exceptions.FiresaleError` (or ``ValueError``) whose message
        contains the string: bad specs of the model's type.

    Raises
    ------
    AssertionError
        Naming the failed check and what it saw.
    """
    make = model if callable(model) and not isinstance(model, ProtocolModel) else (lambda: model)
    m = make()
    if not isinstance(m, ProtocolModel):
        raise ParameterError(
            f"The 'model' parameter of check_protocol_model must be a ProtocolModel. Got {type(m).__name__} instead."
        )
    k = len(m.assets)
    prices = np.asarray(prices, dtype=float)
    if prices.shape != (k,) or not (np.isfinite(prices).all() and (prices > 0).all()):
        raise ParameterError(
            f"The 'prices' parameter of check_protocol_model must be {k} positive finite prices. Got {prices!r} instead."
        )
    passed = []
    if not (len(m.oracles) == len(m.sale_venues) == k):
        _fail(
            "declarations",
            f"assets, oracles and sale_venues must align: {k}, {len(m.oracles)}, {len(m.sale_venues)}",
        )
    if len(set(m.assets)) != k:
        _fail("declarations", f"assets must be distinct, got {m.assets}")
    passed.append("declarations")

    # Settled at the starting prices, a further round does nothing.
    d = _Driver(make(), prices, n_paths)
    _settle(d, d.prices, "settles at unchanged prices")
    flows = d.round(d.prices)
    if flows.acted.any():
        _fail(
            "no action when prices do not move", f"acted on {int(flows.acted.sum())} path(s) after settling"
        )
    passed.append("no action when prices do not move")

    # A crash: flows well-formed, conserved, no negative balances, books finite.
    d = _Driver(make(), prices, n_paths)
    crash = d.prices * shock
    history = _settle(d, crash, "conservation under a crash")
    book = d.model.account(d.state, crash, by_asset=True)
    for name in ("bad_debt_usd", "reserves_usd"):
        arr = getattr(book, name)
        if arr.shape != (n_paths,) or not np.isfinite(arr).all() or (arr < -1e-9).any():
            _fail("books", f"Accounts.{name} must be finite, non-negative, shape {(n_paths,)}; got {arr}")
    passed += ["conservation and no negative balances", "books"]

    # Every path starts alike, so every path must end alike (no cross-path leakage), and the first paths of a
    # bigger batch equal a smaller batch (block invariance).
    acted = np.array([f.n_actions for f in history]).sum(axis=0)
    if (acted != acted[0]).any():
        _fail("paths are independent", f"identical paths acted differently: {acted.tolist()}")
    small = _Driver(make(), prices, max(1, n_paths // 2))
    small_hist = _settle(small, crash[: small.n], "batch invariance")
    small_acted = np.array([f.n_actions for f in small_hist]).sum(axis=0)
    if (small_acted != acted[: small.n]).any():
        _fail("batch invariance", f"{small.n}-path batch acted {small_acted.tolist()}, first paths of {n_paths}: "
                                  f"{acted[: small.n].tolist()}")  # fmt: skip
    passed += ["paths are independent", "batch invariance"]

    # Lower prices never make it act less, where the model says so.
    if m.monotone_in_price:
        counts = []
        for factor in (1.0, 0.9, 0.75, shock):
            d = _Driver(make(), prices, 1)
            counts.append(int(sum(int(f.n_actions[0]) for f in _settle(d, d.prices * factor, "monotone"))))
        if any(b < a for a, b in itertools.pairwise(counts)):
            _fail("monotone in price", f"actions at falling prices {counts} decrease somewhere")
        passed.append("monotone in price")

    # Extreme prices and venues with no liquidity: nothing non-finite.
    for label, factor, pay in (
        ("price 1e-12", 1e-12, 1.0),
        ("price 1e12", 1e12, 1.0),
        ("zero liquidity", shock, 0.0),
    ):
        d = _Driver(make(), prices, 2)
        p = np.full((2, k), factor) if factor in (1e-12, 1e12) else d.prices * factor
        for _ in range(5):
            flows = d.round(p, quotes=flat_quotes(2, k, pay))
            _check_flows(f"extreme: {label}", flows, 2, k)
        book = d.model.account(d.state, p)
        if not np.isfinite(book.bad_debt_usd).all():
            _fail(f"extreme: {label}", "bad debt went non-finite")
        problems = d.model.check_conservation(d.state, d.out)
        if problems:
            _fail(f"extreme: {label}", "; ".join(problems))
    passed.append("finite at extreme prices and zero liquidity")

    for call, fragment in bad_specs:
        try:
            call()
        except ValueError as exc:
            if fragment not in str(exc):
                _fail("clear errors for bad specs", f"message {str(exc)!r} does not say {fragment!r}")
        else:
            _fail(
                "clear errors for bad specs",
                f"a bad spec was accepted (expected an error saying {fragment!r})",
            )
    if bad_specs:
        passed.append("clear errors for bad specs")
    return passed

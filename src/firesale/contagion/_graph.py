"""The exposure graph of a scenario: protocols, assets, venues and oracles, and who depends on whom."""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np
import pandas as pd

from firesale.exceptions import ParameterError
from firesale.scenario import Scenario
from firesale.scenario.schema import OrderBookSpec

__all__ = ["exposure_graph", "node_id", "protocol_liability_matrix"]

KINDS = ("protocol", "asset", "venue", "oracle")


def node_id(kind: str, name: str) -> str:
    """The graph's node for a scenario object: ``"<kind>:<name>"``, as names may repeat across kinds.

    >>> node_id("asset", "WETH")
    'asset:WETH'
    """
    if kind not in KINDS:
        raise ParameterError(
            f"The 'kind' parameter of node_id must be one of {list(KINDS)}. Got {kind!r} instead."
        )
    return f"{kind}:{name}"


def _prices(scenario: Scenario, prices: Mapping[str, float] | None, func: str) -> dict[str, float]:
    out = {a.name: float(a.price) for a in scenario.spec.assets}
    for name, value in (prices or {}).items():
        if name not in out:
            raise ParameterError(
                f"The 'prices' parameter of {func} must name assets of the scenario {sorted(out)}. "
                f"Got {name!r} instead."
            )
        if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
            raise ParameterError(
                f"The 'prices' parameter of {func} must hold positive finite USD prices. Got {name}={value!r} instead."
            )
        out[name] = float(value)
    return out


def _holdings(scenario: Scenario) -> dict[str, dict[str, tuple[float, float]]]:
    """Per protocol, per reserve asset: (collateral amount, debt amount) summed over accounts."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for proto in scenario.spec.protocols:
        reserves = list(getattr(proto, "reserves", {}) or {})
        pos = scenario.positions.get(proto.name)
        coll = pos.collateral.sum(axis=0) if pos is not None else np.zeros(len(reserves))
        debt = pos.debt.sum(axis=0) if pos is not None else np.zeros(len(reserves))
        out[proto.name] = {a: (float(coll[k]), float(debt[k])) for k, a in enumerate(reserves)}
    return out


def exposure_graph(scenario: Scenario, *, prices: Mapping[str, float] | None = None) -> nx.DiGraph:
    """The scenario as a directed graph of exposures and dependencies.

    Parameters
    ----------
    scenario : Scenario
        From :func:`firesale.load_scenario`.
    prices : mapping of asset name to float, optional
        USD prices to value holdings at (default: the scenario's starting prices).

    Returns
    -------
    networkx.DiGraph
        Nodes ``"<kind>:<name>"`` (see :func:`node_id`) with attributes ``kind`` (``protocol``, ``asset``,
        ``venue``, ``oracle``) and ``name``; assets also carry ``price_usd``, venues ``venue_type``, oracles
        ``oracle_type``, protocols ``protocol_type`` and ``reserve_usd``. Every edge has a ``relation``:

        ============================  ============  ===================================================
        edge                          relation      attributes
        ============================  ============  ===================================================
        protocol -> asset             ``holds``     ``collateral_amount``, ``collateral_usd``,
                                                    ``debt_amount``, ``debt_usd`` (summed over the
                                                    protocol's accounts; debt is what it lends out),
                                                    ``liquidation_threshold``, ``weight`` (collateral
                                                    plus debt, USD)
        asset -> venue                ``traded_on`` ``liquidation_venue_of``: protocols that route seized
                                                    units of the asset there
        oracle -> protocol            ``read_by``   ``assets``: the reserves it prices there
        oracle -> venue               ``reads``     a TWAP oracle reads the pool
        oracle -> asset               ``prices``    the asset the oracle reports (``reference``: read
                                                    off the reference asset's price instead)
        oracle -> oracle              ``median_of`` a median oracle reads its sources
        asset -> asset                ``derived_from``  receipt, wrapped or staked asset on its parent
        ============================  ============  ===================================================

    Notes
    -----
    Reachability in this graph is a channel list, not a model: a path ``asset -> venue <- oracle -> protocol``
    says a fire sale on that venue moves a price that protocol reads. The amounts are the book at ``prices``,
    before any run; use :func:`protocol_liability_matrix` for the protocol-to-protocol claims that
    :func:`eisenberg_noe` and :func:`debtrank` take.

    Examples
    --------
    >>> import firesale
    >>> g = exposure_graph(firesale.load_scenario("toy-spiral"))
    >>> g.nodes["protocol:lender"]["kind"], g.edges["asset:WETH", "venue:cex-weth"]["relation"]
    ('protocol', 'traded_on')
    """
    spec = scenario.spec
    px = _prices(scenario, prices, "exposure_graph")
    g = nx.DiGraph(name=spec.name)
    for a in spec.assets:
        g.add_node(node_id("asset", a.name), kind="asset", name=a.name, price_usd=px[a.name])
    for v in spec.venues:
        g.add_node(node_id("venue", v.name), kind="venue", name=v.name, venue_type=v.type)
    for o in spec.oracles:
        g.add_node(node_id("oracle", o.name), kind="oracle", name=o.name, oracle_type=o.type)
    for p in spec.protocols:
        g.add_node(
            node_id("protocol", p.name),
            kind="protocol",
            name=p.name,
            protocol_type=getattr(p, "type", None),
            reserve_usd=float(getattr(p, "reserve_usd", 0.0)),
        )

    for a in spec.assets:
        if a.derived_from is not None:
            g.add_edge(node_id("asset", a.name), node_id("asset", a.derived_from), relation="derived_from")
    for v in spec.venues:
        coins = [v.asset] if isinstance(v, OrderBookSpec) else list(v.coins)
        for c in coins:
            g.add_edge(
                node_id("asset", c), node_id("venue", v.name), relation="traded_on", liquidation_venue_of=[]
            )
    for o in spec.oracles:
        oid = node_id("oracle", o.name)
        g.add_edge(oid, node_id("asset", o.asset), relation="prices")
        if o.reference_asset is not None:
            g.add_edge(oid, node_id("asset", o.reference_asset), relation="reference")
        if o.venue is not None:
            g.add_edge(oid, node_id("venue", o.venue), relation="reads")
        for s in o.sources:
            g.add_edge(oid, node_id("oracle", s), relation="median_of")

    holdings = _holdings(scenario)
    for p in spec.protocols:
        pid = node_id("protocol", p.name)
        for asset, r in (getattr(p, "reserves", {}) or {}).items():
            coll, debt = holdings[p.name][asset]
            g.add_edge(
                pid,
                node_id("asset", asset),
                relation="holds",
                collateral_amount=coll,
                collateral_usd=coll * px[asset],
                debt_amount=debt,
                debt_usd=debt * px[asset],
                liquidation_threshold=float(r.liquidation_threshold),
                weight=(coll + debt) * px[asset],
            )
            oid = node_id("oracle", r.oracle)
            if g.has_edge(oid, pid):
                g.edges[oid, pid]["assets"].append(asset)
            else:
                g.add_edge(oid, pid, relation="read_by", assets=[asset])
            for v in r.venues:
                g.edges[node_id("asset", asset), node_id("venue", v)]["liquidation_venue_of"].append(p.name)
    return g


def protocol_liability_matrix(
    scenario: Scenario, issuers: Mapping[str, str], *, prices: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """What each protocol owes each other protocol through tokens it issued that the other holds as collateral.

    Parameters
    ----------
    scenario : Scenario
        From :func:`firesale.load_scenario`.
    issuers : mapping of asset name to protocol name
        Which protocol issued which asset (a receipt token such as an aToken or cToken, a CDP stablecoin, an LP
        share). Scenario files carry no issuer field yet, so the caller states it; assets not in the mapping are
        treated as issued outside the network.
    prices : mapping of asset name to float, optional
        USD prices (default: the scenario's starting prices).

    Returns
    -------
    pandas.DataFrame of shape (n_protocols, n_protocols)
        Rows are debtors, columns creditors, both in the scenario's protocol order: entry ``[A, B]`` is the USD
        value of tokens issued by ``A`` that ``B``'s accounts post as collateral in ``B``. A protocol holding its
        own token is left out (the diagonal is zero), as a clearing network has no self-claims.

    Notes
    -----
    When ``B`` accepts ``A``'s receipt token as collateral, ``B``'s solvency rests on ``A`` redeeming it: a loss
    socialised among ``A``'s depositors marks that collateral down, and ``B``'s lenders bear it if the
    positions go under water. Counting the whole collateral value as ``B``'s claim on ``A`` is the balance-sheet
    reading that Eisenberg-Noe and DebtRank need (``L[A, B]``: what ``A`` owes ``B``); it is an upper bound on
    the exposure, since over-collateralised positions absorb part of a markdown first. Debt is not counted:
    tokens ``B`` lends out are claims of ``B`` on its borrowers, not on their issuer.

    Examples
    --------
    >>> import firesale
    >>> sc = firesale.load_scenario("toy-spiral")
    >>> protocol_liability_matrix(sc, {}).to_numpy().tolist()
    [[0.0]]
    """
    func = "protocol_liability_matrix"
    spec = scenario.spec
    names = [p.name for p in spec.protocols]
    assets = {a.name for a in spec.assets}
    for asset, proto in issuers.items():
        if asset not in assets:
            raise ParameterError(
                f"The 'issuers' parameter of {func} must map assets of the scenario {sorted(assets)} to "
                f"protocols. Got asset {asset!r} instead."
            )
        if proto not in names:
            raise ParameterError(
                f"The 'issuers' parameter of {func} must map assets to protocols of the scenario {names}. "
                f"Got {asset!r} -> {proto!r} instead."
            )
    px = _prices(scenario, prices, func)
    holdings = _holdings(scenario)
    L = pd.DataFrame(0.0, index=pd.Index(names, name="debtor"), columns=pd.Index(names, name="creditor"))
    for holder in names:
        for asset, (coll, _) in holdings[holder].items():
            issuer = issuers.get(asset)
            if issuer is not None and issuer != holder:
                L.loc[issuer, holder] += coll * px[asset]
    return L

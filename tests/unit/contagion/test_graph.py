"""The exposure graph and the protocol liability matrix of a small two-lender scenario, valued by hand."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import firesale
from firesale.contagion import exposure_graph, node_id, protocol_liability_matrix
from firesale.exceptions import ParameterError
from firesale.scenario import parse_scenario

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def two():
    # alpha: WETH collateral 10 + 5, USDC debt 12,000 + 4,000; beta: aWETH collateral 3 + 1.5, USDC debt 3,000 + 1,000.
    return parse_scenario((HERE / "two_lenders.toml").read_text(), source="two_lenders.toml", base_dir=HERE)


def test_nodes_carry_their_kind(two):
    g = exposure_graph(two)
    kinds = nx.get_node_attributes(g, "kind")
    assert sorted(n for n, k in kinds.items() if k == "protocol") == ["protocol:alpha", "protocol:beta"]
    assert sorted(n for n, k in kinds.items() if k == "asset") == ["asset:USDC", "asset:WETH", "asset:aWETH"]
    assert sorted(n for n, k in kinds.items() if k == "venue") == ["venue:cex-weth", "venue:pool-aweth"]
    assert sum(k == "oracle" for k in kinds.values()) == 5
    assert g.nodes["protocol:beta"]["protocol_type"] == "compound_v2"
    assert g.nodes["protocol:alpha"]["reserve_usd"] == 50_000.0
    assert g.nodes["asset:aWETH"]["price_usd"] == 2000.0


def test_holdings_are_valued_at_starting_prices(two):
    g = exposure_graph(two)
    e = g.edges["protocol:alpha", "asset:WETH"]
    # 15 WETH x $2,000 = $30,000 of collateral.
    assert (e["relation"], e["collateral_amount"], e["collateral_usd"], e["debt_usd"]) == (
        "holds",
        15.0,
        30_000.0,
        0.0,
    )
    assert e["liquidation_threshold"] == 0.83
    assert g.edges["protocol:alpha", "asset:USDC"]["debt_usd"] == 16_000.0
    assert g.edges["protocol:beta", "asset:aWETH"]["collateral_usd"] == 9_000.0  # 4.5 x 2,000
    assert g.edges["protocol:beta", "asset:USDC"]["debt_amount"] == 4_000.0
    # Revalued: WETH at 1,500 moves alpha's collateral to 22,500, not the (separately priced) aWETH.
    g2 = exposure_graph(two, prices={"WETH": 1500.0})
    assert g2.edges["protocol:alpha", "asset:WETH"]["collateral_usd"] == 22_500.0
    assert g2.edges["protocol:beta", "asset:aWETH"]["collateral_usd"] == 9_000.0


def test_dependency_edges(two):
    g = exposure_graph(two)
    rel = nx.get_edge_attributes(g, "relation")
    assert rel["asset:aWETH", "asset:WETH"] == "derived_from"
    assert rel["asset:WETH", "venue:cex-weth"] == "traded_on"
    assert rel["asset:aWETH", "venue:pool-aweth"] == rel["asset:WETH", "venue:pool-aweth"] == "traded_on"
    assert g.edges["asset:aWETH", "venue:pool-aweth"]["liquidation_venue_of"] == ["beta"]
    assert g.edges["asset:WETH", "venue:pool-aweth"]["liquidation_venue_of"] == []
    assert rel["oracle:aweth-twap", "venue:pool-aweth"] == "reads"
    assert (
        rel["oracle:aweth-median", "oracle:aweth-twap"]
        == rel["oracle:aweth-median", "oracle:aweth-push"]
        == "median_of"
    )
    assert g.edges["oracle:usdc-usd", "protocol:alpha"]["assets"] == ["USDC"]
    assert g.edges["oracle:aweth-median", "protocol:beta"]["assets"] == ["aWETH"]
    assert not g.has_edge(
        "oracle:aweth-twap", "protocol:beta"
    )  # beta reads the median, not the TWAP directly
    # The channel from a fire sale in the aWETH pool to beta: the pool is read by the TWAP, a source of the median.
    assert nx.has_path(g.reverse(copy=False), "venue:pool-aweth", "protocol:beta")


def test_liability_matrix_from_issuers(two):
    # alpha issued aWETH; beta's accounts post 4.5 aWETH ($9,000): alpha owes beta $9,000.
    L = protocol_liability_matrix(two, {"aWETH": "alpha"})
    assert list(L.index) == list(L.columns) == ["alpha", "beta"]
    np.testing.assert_array_equal(L.to_numpy(), [[0.0, 9_000.0], [0.0, 0.0]])
    np.testing.assert_array_equal(
        protocol_liability_matrix(two, {"aWETH": "alpha"}, prices={"aWETH": 1000.0}).to_numpy(),
        [[0, 4_500.0], [0, 0]],
    )
    # Debt is not a claim on the issuer: beta "issuing" USDC, which alpha lends out, leaves the matrix empty;
    # a protocol holding its own token is no self-claim.
    np.testing.assert_array_equal(
        protocol_liability_matrix(two, {"USDC": "beta", "WETH": "alpha"}).to_numpy(), 0.0
    )


def test_builtin_scenario_graph():
    sc = firesale.load_scenario("aave-v3-today")
    g = exposure_graph(sc)
    proto = sc.spec.protocols[0].name
    holds = [(a, d) for _, a, d in g.out_edges(node_id("protocol", proto), data=True)]
    assert {a for a, _ in holds} == {node_id("asset", a) for a in sc.spec.protocols[0].reserves}
    price = {a.name: a.price for a in sc.spec.assets}
    pos = sc.positions[proto]
    k = list(sc.spec.protocols[0].reserves).index("WETH")
    assert g.edges[node_id("protocol", proto), "asset:WETH"]["collateral_usd"] == pytest.approx(
        pos.collateral[:, k].sum() * price["WETH"], rel=1e-12
    )
    assert g.edges["asset:wstETH", "asset:WETH"]["relation"] == "derived_from"
    assert g.edges["oracle:capo-wsteth", "asset:WETH"]["relation"] == "reference"


@pytest.mark.parametrize(
    ("issuers", "prices", "match"),
    [
        (
            {"stETH": "alpha"},
            None,
            r"'issuers' parameter of protocol_liability_matrix must map assets of the scenario",
        ),
        (
            {"aWETH": "gamma"},
            None,
            r"must map assets to protocols of the scenario \['alpha', 'beta'\]. Got 'aWETH' -> 'gamma'",
        ),
        ({}, {"DAI": 1.0}, r"'prices' parameter of protocol_liability_matrix must name assets"),
        ({}, {"WETH": -1.0}, r"must hold positive finite USD prices. Got WETH=-1.0 instead"),
    ],
)
def test_bad_arguments(two, issuers, prices, match):
    with pytest.raises(ParameterError, match=match):
        protocol_liability_matrix(two, issuers, prices=prices)


def test_node_id_rejects_unknown_kinds():
    with pytest.raises(ParameterError, match=r"'kind' parameter of node_id must be one of"):
        node_id("pool", "x")

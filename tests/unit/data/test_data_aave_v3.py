"""The aave-v3-today inputs: snapshot loader, inferred positions, parameters and recomputed health factors.

External figures: the pack's SANITY_CHECKS.txt ("Aave v3 top-1000 borrowers: debt $14.81B, collateral $23.52B,
HF<1 ... 281") and herculesArmy/aave_v3_risk docs/ASSIGNMENT_ANSWERS.md (917 users in the positions file; user #1
holds 290,417 wstETH and 215,987 weETH against 543,767 WETH; collateral WETH $5,751,767,566, wstETH
$4,010,383,006, WBTC $2,690,944,343 + cbBTC $1,502,544,153).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from firesale.data import (
    aave_v3_market_parameters,
    aave_v3_positions,
    aave_v3_prices,
    load_aave_v3_snapshot,
    recompute_health_factors,
)
from firesale.exceptions import ParameterError

WHALE = "0x9600a48ed0f931d0c422d574e3275a90d8b22745"


@pytest.fixture(scope="module")
def inferred() -> tuple[pd.DataFrame, pd.DataFrame]:
    return aave_v3_positions(details=True)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def health(inferred: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    positions, accounts = inferred
    return accounts.set_index("account").join(recompute_health_factors(positions))


def test_snapshot_figures() -> None:
    users, positions = load_aave_v3_snapshot()
    assert len(users) == 1000
    assert round(users["total_debt_usd"].sum() / 1e9, 2) == 14.81
    assert round(users["total_collateral_usd"].sum() / 1e9, 2) == 23.52
    assert int((users["health_factor"] < 1).sum()) == 281
    assert len(positions) == 1000
    assert positions["user_address"].nunique() == 917


def test_snapshot_prices_are_the_files() -> None:
    # Rows of top_1000_borrowed_positions.csv: WETH 2824.93892778, wstETH 3447.38382951, weETH 3056.90694827,
    # WBTC 87154.72259016, USDC 0.99971054, USDT 0.99999363, USDe 0.99923579.
    prices = aave_v3_prices()
    assert prices.to_dict() == {
        "WETH": 2824.93892778,
        "wstETH": 3447.38382951,
        "weETH": 3056.90694827,
        "WBTC": 87154.72259016,
        "USDC": 0.99971054,
        "USDT": 0.99999363,
        "USDe": 0.99923579,
    }


def test_positions_format(inferred: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    positions, accounts = inferred
    assert list(positions.columns) == ["account", "asset", "collateral_amount", "debt_amount"]
    assert not positions.duplicated(["account", "asset"]).any()
    assert set(positions["asset"]) <= {"WETH", "wstETH", "weETH", "WBTC", "USDC", "USDT", "USDe"}
    assert len(set(positions["asset"])) >= 4
    values = positions[["collateral_amount", "debt_amount"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert ((positions["collateral_amount"] > 0) | (positions["debt_amount"] > 0)).all()
    # Every priced borrower is in, the 12 whose collateral the source could not price are out.
    assert int((~accounts["included"]).sum()) == 12
    assert positions["account"].nunique() == 988


def test_positions_preserve_usd_totals(inferred: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    positions, accounts = inferred
    prices = aave_v3_prices()
    usd = positions.assign(price=positions["asset"].map(prices))
    per_account = pd.DataFrame(
        {
            "debt": (usd["debt_amount"] * usd["price"]).groupby(usd["account"]).sum(),
            "coll": (usd["collateral_amount"] * usd["price"]).groupby(usd["account"]).sum(),
        }
    )
    expected = accounts[accounts["included"]].set_index("account")
    # Listed debts keep the source's token amounts while its amount_usd column is rounded to the cent: each
    # account's debt is exact to a cent per listed position.
    np.testing.assert_allclose(
        per_account.loc[expected.index, "debt"], expected["total_debt_usd"], rtol=0, atol=0.02
    )
    np.testing.assert_allclose(
        per_account.loc[expected.index, "coll"], expected["total_collateral_usd"], rtol=1e-12
    )


def test_whale_collateral_matches_the_source_authors_breakdown(
    inferred: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    # ASSIGNMENT_ANSWERS.md, "User #1 at Current Prices": 290,417 wstETH and 215,987 weETH; 543,767 WETH debt.
    positions, _ = inferred
    whale = positions[positions["account"] == WHALE].set_index("asset")
    assert whale.loc["wstETH", "collateral_amount"] == pytest.approx(290_417, rel=0.01)
    assert whale.loc["weETH", "collateral_amount"] == pytest.approx(215_987, rel=0.01)
    assert whale.loc["WETH", "debt_amount"] == pytest.approx(543_767.9788716927, rel=1e-12)


def test_aggregate_collateral_close_to_the_source_authors_totals(
    inferred: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    positions, _ = inferred
    usd = (
        (positions["collateral_amount"] * positions["asset"].map(aave_v3_prices()))
        .groupby(positions["asset"])
        .sum()
    )
    # ASSIGNMENT_ANSWERS.md "Top 10 Supplied Assets" (dollar figures quoted in the module docstring).
    assert usd["WETH"] == pytest.approx(5_751_767_566, rel=0.05)
    assert usd["wstETH"] == pytest.approx(4_010_383_006, rel=0.05)
    assert usd["WBTC"] == pytest.approx(2_690_944_343 + 1_502_544_153, rel=0.05)


def test_base_health_factor_reproduces_the_source(health: pd.DataFrame) -> None:
    # Without e-mode the recomputed HF equals the snapshot's (published with 4 decimals) wherever the rules
    # place lambda exactly: non-ETH borrowers with lambda in [0.75, 0.83]; ETH borrowers in e-mode with lambda
    # in [0.80, 0.83]; other ETH borrowers with lambda in [0.78, 0.83].
    # lambda is known to the rounding of HF_s: +- 0.5e-4 * D / C (capped at 1e-3, as documented).
    lam = health["implied_lt"]
    tol = np.minimum(0.5e-4 * health["total_debt_usd"] / health["total_collateral_usd"], 1e-3)
    eth = health["debt_class"] == "ETH"

    def within(lo: float, hi: float) -> pd.Series:
        return (lam >= lo - tol) & (lam <= hi + tol)

    exact = health["included"] & (
        (~eth & within(0.75, 0.83))
        | (eth & health["emode_needed"] & within(0.80, 0.83))
        | (eth & ~health["emode_needed"] & within(0.78, 0.83))
    )
    assert exact.sum() > 900
    gap = (health.loc[exact, "health_factor_base"] - health.loc[exact, "health_factor_source"]).abs()
    assert gap.max() <= 0.5e-4 + 1e-9


def test_emode_lifts_most_accounts_above_one(health: pd.DataFrame) -> None:
    included = health[health["included"]]
    below_snapshot = int((health["health_factor_source"] < 1).sum())
    below_emode = int((included["health_factor"] < 1).sum())
    assert below_snapshot == 281
    assert below_emode < below_snapshot
    # E-mode can only raise a health factor.
    assert (included["health_factor"] >= included["health_factor_base"] - 1e-15).all()
    # The whale (HF 0.8718 without e-mode) is in the ETH-correlated category: 1,661,434,496.68 * 0.95 /
    # 1,536,111,331.19 = 1.0275 (its collateral is all ETH-correlated).
    assert int(health.loc[WHALE, "emode"]) == 1
    assert health.loc[WHALE, "health_factor"] == pytest.approx(
        1_661_434_496.68 * 0.95 / 1_536_111_331.19, rel=1e-9
    )


def test_recompute_hand_calculated_cases() -> None:
    prices = pd.Series(
        {"WETH": 2000.0, "wstETH": 2400.0, "weETH": 2100.0, "WBTC": 80000.0, "USDC": 1.0, "USDe": 1.0}
    )
    book = pd.DataFrame(
        [
            # a: wstETH collateral, WETH debt -> ETH-correlated e-mode, LT 0.95.
            ("a", "wstETH", 1.0, 0.0),
            ("a", "WETH", 0.0, 1.0),
            # b: weETH collateral, wstETH debt -> only the weETH/wstETH category (id 26) allows it.
            ("b", "weETH", 2.0, 0.0),
            ("b", "wstETH", 0.0, 1.5),
            # c: WBTC + wstETH collateral, WETH debt -> e-mode 1 applies to wstETH only; WBTC keeps 0.78.
            ("c", "WBTC", 0.01, 0.0),
            ("c", "wstETH", 1.0, 0.0),
            ("c", "WETH", 0.0, 1.5),
            # d: USDe collateral, USDC debt -> categories 2 (LT 0.92), 11 (0.93), 24 (0.92): the best is 11.
            ("d", "USDe", 1000.0, 0.0),
            ("d", "USDC", 0.0, 900.0),
            # e: WBTC collateral and debt -> no category.
            ("e", "WBTC", 1.0, 0.5),
            # f: collateral only -> infinite HF.
            ("f", "WETH", 1.0, 0.0),
        ],
        columns=["account", "asset", "collateral_amount", "debt_amount"],
    )
    hf = recompute_health_factors(book, prices=prices)
    assert hf.loc["a", "health_factor_base"] == pytest.approx(2400 * 0.81 / 2000)
    assert (hf.loc["a", "emode"], hf.loc["a", "health_factor"]) == (1, pytest.approx(2400 * 0.95 / 2000))
    assert (hf.loc["b", "emode"], hf.loc["b", "health_factor"]) == (26, pytest.approx(4200 * 0.95 / 3600))
    assert hf.loc["c", "emode"] == 1
    assert hf.loc["c", "health_factor"] == pytest.approx((800 * 0.78 + 2400 * 0.95) / 3000)
    assert (hf.loc["d", "emode"], hf.loc["d", "health_factor"]) == (11, pytest.approx(1000 * 0.93 / 900))
    assert (hf.loc["e", "emode"], hf.loc["e", "health_factor"]) == (0, pytest.approx(0.78 * 2))
    assert np.isinf(hf.loc["f", "health_factor"])
    no_emode = recompute_health_factors(book, prices=prices, use_emode=False)
    assert (no_emode["emode"] == 0).all()
    np.testing.assert_allclose(no_emode["health_factor"], hf["health_factor_base"])


def test_market_parameters_obey_the_configurator_rules() -> None:
    # PoolConfigurator.configureReserveAsCollateral (aave-dao/aave-v3-origin v3.5.0) requires
    # ltv <= liquidationThreshold and liquidationThreshold.percentMul(liquidationBonus) <= 100%;
    # setEModeCategory requires the same of each category.
    reserves, emodes = aave_v3_market_parameters()
    assert set(reserves.index) == {"WETH", "wstETH", "weETH", "WBTC", "USDC", "USDT", "USDe"}
    for table in (reserves, emodes):
        assert (table["ltv"] <= table["liquidation_threshold"]).all()
        assert (table["liquidation_threshold"] * (1 + table["liquidation_bonus"]) <= 1).all()
    for _, category in emodes.iterrows():
        assert set(category["collateral"]) | set(category["borrowable"]) <= set(reserves.index)
        base = reserves.loc[list(category["collateral"]), "liquidation_threshold"]
        assert (category["liquidation_threshold"] > base).all()


def test_reserve_thresholds_are_the_snapshots_clusters() -> None:
    # The snapshot's HF = sum(coll * LT) / debt, so lambda = HF * debt / coll clusters at the reserves' base LTs.
    users, _ = load_aave_v3_snapshot()
    users = users[users["total_collateral_usd"] > 0]
    lam = (users["health_factor"] * users["total_debt_usd"] / users["total_collateral_usd"]).round(3)
    clusters = set(lam.value_counts().head(5).index)
    reserves, _ = aave_v3_market_parameters()
    assert set(reserves["liquidation_threshold"].round(3)) == clusters


@settings(max_examples=25, deadline=None)
@given(
    scale=st.floats(min_value=1e-3, max_value=1e3),
    coll=st.lists(st.floats(min_value=0.0, max_value=1e3), min_size=3, max_size=3),
    debt=st.floats(min_value=1e-3, max_value=1e3),
    extra=st.floats(min_value=0.0, max_value=1e3),
)
def test_health_factor_properties(scale: float, coll: list[float], debt: float, extra: float) -> None:
    prices = pd.Series({"WETH": 2000.0, "wstETH": 2400.0, "WBTC": 80000.0})
    book = pd.DataFrame(
        {
            "account": ["x"] * 3,
            "asset": ["wstETH", "WBTC", "WETH"],
            "collateral_amount": coll,
            "debt_amount": [0.0, 0.0, debt],
        }
    )
    base = recompute_health_factors(book, prices=prices).loc["x", "health_factor"]
    scaled = book.assign(
        collateral_amount=book["collateral_amount"] * scale, debt_amount=book["debt_amount"] * scale
    )
    assert recompute_health_factors(scaled, prices=prices).loc["x", "health_factor"] == pytest.approx(
        base, rel=1e-9
    )
    more = book.copy()
    more.loc[0, "collateral_amount"] += extra
    assert recompute_health_factors(more, prices=prices).loc["x", "health_factor"] >= base * (1 - 1e-12)


def test_recompute_errors() -> None:
    good = pd.DataFrame(
        {"account": ["a"], "asset": ["WETH"], "collateral_amount": [1.0], "debt_amount": [0.5]}
    )
    with pytest.raises(ParameterError, match=r"must be a DataFrame with columns \['account', 'asset'"):
        recompute_health_factors(good.drop(columns="asset"))
    with pytest.raises(
        ParameterError, match=r"must have finite collateral_amount >= 0\. Got -1\.0 for account 'a'"
    ):
        recompute_health_factors(good.assign(collateral_amount=-1.0))
    with pytest.raises(ParameterError, match=r"must have finite debt_amount >= 0\. Got inf"):
        recompute_health_factors(good.assign(debt_amount=np.inf))
    with pytest.raises(
        ParameterError, match=r"one row per \(account, asset\)\. Got two rows for \('a', 'WETH'\)"
    ):
        recompute_health_factors(pd.concat([good, good]))
    with pytest.raises(
        ParameterError,
        match=r"The 'prices' parameter of recompute_health_factors must give a price > 0 for 'DOGE'",
    ):
        recompute_health_factors(
            good.assign(asset="DOGE"), prices=pd.Series({"DOGE": 1.0, "WETH": 1.0}).drop("DOGE")
        )
    with pytest.raises(
        ParameterError,
        match=r"The 'reserves' parameter of recompute_health_factors has no parameters for 'DOGE'",
    ):
        recompute_health_factors(good.assign(asset="DOGE"), prices=pd.Series({"DOGE": 1.0}))
    with pytest.raises(
        ParameterError, match=r"The 'use_emode' parameter of recompute_health_factors must be a bool"
    ):
        recompute_health_factors(good, use_emode="yes")  # type: ignore[arg-type]


def test_positions_details_must_be_bool() -> None:
    with pytest.raises(
        ParameterError, match=r"The 'details' parameter of aave_v3_positions must be a bool\. Got 1"
    ):
        aave_v3_positions(details=1)  # type: ignore[arg-type]


USERS = "user_address,total_debt_usd,total_collateral_usd,health_factor\n"
POSITIONS = "user_address,symbol,amount,amount_usd,price_usd\n"
A = "0x" + "a" * 40
B = "0x" + "b" * 40


def write_snapshot(tmp_path: Path, users: str, positions: str) -> tuple[Path, Path]:
    (tmp_path / "u.csv").write_text(USERS + users)
    (tmp_path / "p.csv").write_text(POSITIONS + positions)
    return tmp_path / "u.csv", tmp_path / "p.csv"


def test_user_snapshot_round_trip(tmp_path: Path) -> None:
    u, p = write_snapshot(
        tmp_path, f"{A.upper().replace('0X', '0x')},100,200,1.6\n", f"{A},WETH,0.05,100,2000\n"
    )
    users, positions = load_aave_v3_snapshot(u, p)
    assert users["user_address"].tolist() == [A]
    assert positions["amount"].tolist() == [0.05]


@pytest.mark.parametrize(
    ("users", "positions", "message"),
    [
        (
            "0x123,1,1,1\n",
            "",
            r"u\.csv: column 'user_address' must hold 0x-prefixed 40-hex-digit addresses; got '0x123'",
        ),
        (f"{A},-1,1,1\n", "", r"u\.csv: column 'total_debt_usd' must hold numbers >= 0; got -1\.0 at line 2"),
        (f"{A},1,,1\n", "", r"column 'total_collateral_usd' must hold numbers >= 0; got nan"),
        (f"{A},1,1,1\n{A},2,2,2\n", "", rf"u\.csv: user {A} appears more than once"),
        (f"{A},1,1,1\n", f"{B},WETH,1,1,1\n", rf"p\.csv: user {B} has a position but is not in"),
        (f"{A},1,1,1\n", f"{A},WETH,1,1,0\n", r"price_usd of WETH must be > 0"),
        (f"{A},1,1,1\n", f"{A}, ,1,1,1\n", r"column 'symbol' is empty at line 2"),
    ],
)
def test_user_snapshot_errors(tmp_path: Path, users: str, positions: str, message: str) -> None:
    u, p = write_snapshot(tmp_path, users, positions or f"{A},WETH,1,1,1\n")
    with pytest.raises(ParameterError, match=message):
        load_aave_v3_snapshot(u, p)


def test_user_snapshot_missing_column(tmp_path: Path) -> None:
    (tmp_path / "u.csv").write_text("user_address,total_debt_usd\n")
    (tmp_path / "p.csv").write_text(POSITIONS)
    with pytest.raises(ParameterError, match=r"u\.csv has no 'total_collateral_usd' column"):
        load_aave_v3_snapshot(tmp_path / "u.csv", tmp_path / "p.csv")


def test_positions_reject_unknown_debt_symbol(tmp_path: Path) -> None:
    universe_rows = "".join(
        f"{B},{s},1,{p},{p}\n"
        for s, p in [
            ("WETH", 2000),
            ("wstETH", 2400),
            ("weETH", 2100),
            ("WBTC", 80000),
            ("USDC", 1),
            ("USDT", 1),
            ("USDe", 1),
        ]
    )
    u, p = write_snapshot(
        tmp_path, f"{A},10,20,1.6\n{B},84502,200000,2\n", f"{A},DOGE,100,10,0.1\n" + universe_rows
    )
    with pytest.raises(ParameterError, match=r"debt symbol 'DOGE' is neither in the universe"):
        aave_v3_positions(u, p)


def test_prices_need_every_universe_asset(tmp_path: Path) -> None:
    u, p = write_snapshot(tmp_path, f"{A},10,20,1.6\n", f"{A},WETH,1,2000,2000\n")
    with pytest.raises(ParameterError, match=r"the snapshot has no wstETH position to read its price from"):
        aave_v3_prices(p, u)

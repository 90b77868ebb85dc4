"""A protocol's token priced from the protocol's uncovered loss (``assets.*.token_of``), inside the step's
derived-price fixed point, against values solved by hand; its use as collateral elsewhere; the refusals; and the
error of a fixed point that does not converge."""

from __future__ import annotations

import numpy as np
import pytest

import firesale
from firesale.exceptions import ScenarioError, SimulationError
from firesale.protocols.lending_market import LendingMarket
from firesale.scenario import parse_scenario

RESERVE = """
[protocols.reserves.{asset}]
ltv = 0.7
liquidation_threshold = 0.80
liquidation_bonus = 0.05
oracle = "{oracle}"
venues = ["{venue}"]
{extra}
"""


def text(*, gov="", lender_accounts, lender_gov=False, borrower=False, record='"price"', min_profit=1e9):
    out = f"""
name = "s"
[simulation]
n_steps = 2
dt = 300
n_paths = 2
record = [{record}]
[[assets]]
name = "WETH"
price = 2000.0
[[assets]]
name = "USDC"
price = 1.0
[[assets]]
name = "GOV"
price = 10.0
token_of = "lender"
token_supply = 1000
{gov}
[market]
model = "shock"
shape = "drop"
depth = {{ WETH = 0.5 }}
start = 300
"""
    for asset in ("WETH", "USDC", "GOV"):
        out += f"""
[[venues]]
type = "orderbook"
name = "{asset.lower()}-book"
asset = "{asset}"
depth_usd = 1e300
impact = "linear"
[[oracles]]
name = "{asset.lower()}"
asset = "{asset}"
type = "market"
"""
    out += f"""
[[protocols]]
name = "lender"
type = "aave_v3"
accounts = [{lender_accounts}]
"""
    for asset in ("WETH", "USDC") + (("GOV",) if lender_gov else ()):
        out += RESERVE.format(asset=asset, oracle=asset.lower(), venue=asset.lower() + "-book", extra="")
    if borrower:
        out += """
[[protocols]]
name = "borrower"
type = "aave_v3"
accounts = [{ account = "x", asset = "GOV", collateral_amount = 100.0 },
            { account = "x", asset = "USDC", debt_amount = 790.0 }]
"""
        for asset in ("GOV", "USDC"):
            out += RESERVE.format(asset=asset, oracle=asset.lower(), venue=asset.lower() + "-book", extra="")
    out += f"""
[agents]
gas_per_liquidation = 0
min_profit_usd = {min_profit}
"""
    return out


UNDERWATER = ('{ account = "a", asset = "WETH", collateral_amount = 1.0 }, '
              '{ account = "a", asset = "USDC", debt_amount = 1500.0 }')  # fmt: skip


def gov_price(res) -> np.ndarray:
    return res.paths["price_GOV"][:, -1].astype(float)


def test_the_token_loses_elasticity_times_the_uncovered_loss_over_its_market_value():
    # WETH halves to $1,000 and no liquidator acts (min profit $1e9): the lender's bad debt is 1,500 - 1,000 = $500,
    # none covered (no reserve, no fees). GOV's market value is 1,000 * $10 = $10,000: with elasticity 0.5 its price
    # is 10 * (1 - 0.5 * 500 / 10,000) = $9.75.
    res = firesale.simulate(
        parse_scenario(text(gov="loss_elasticity = 0.5", lender_accounts=UNDERWATER)), seed=1
    )
    np.testing.assert_allclose(gov_price(res), 9.75, rtol=1e-6)
    # The default elasticity is 1 (the holders are the residual claimants): 10 * (1 - 500 / 10,000) = $9.50.
    res = firesale.simulate(parse_scenario(text(lender_accounts=UNDERWATER)), seed=1)
    np.testing.assert_allclose(gov_price(res), 9.5, rtol=1e-6)


def test_a_protocol_holding_its_own_token_is_priced_at_the_fixed_point():
    # Account a also holds 40 GOV in the lender: its shortfall is L(p) = 1,500 - 1,000 - 40 p, and
    # p = 10 (1 - 0.5 L(p) / 10,000) = 9.75 + 0.02 p, so p = 9.75 / 0.98 = 9.948979..., L = 102.04.
    accounts = UNDERWATER + ', { account = "a", asset = "GOV", collateral_amount = 40.0 }'
    sc = parse_scenario(text(gov="loss_elasticity = 0.5", lender_accounts=accounts, lender_gov=True))
    res = firesale.simulate(sc, seed=1)
    np.testing.assert_allclose(gov_price(res), 9.75 / 0.98, rtol=1e-6)
    np.testing.assert_allclose(res.metrics["bad_debt_usd_lender"], 500 - 40 * 9.75 / 0.98, rtol=1e-6)


def test_the_token_as_collateral_elsewhere_carries_the_loss_into_that_protocol():
    # borrower's x holds 100 GOV against $790: HF 0.8 * 1,000 / 790 = 1.0127 at $10, 0.8 * 950 / 790 = 0.962 at
    # $9.50. Liquidators act for any profit here: x is liquidated only because the lender's loss reached GOV.
    sc = parse_scenario(text(lender_accounts=UNDERWATER, borrower=True, min_profit=0))
    # The lender's own account is liquidated too now; its loss is what a liquidation leaves: at HF 0.5333 the whole
    # debt may be repaid, so 1,000 / 1.05 = $952.38 is and all the collateral goes: 1,500 - 952.38 = $547.62 left.
    res = firesale.simulate(sc, seed=1)
    np.testing.assert_allclose(gov_price(res), 10 * (1 - (1500 - 1000 / 1.05) / 10_000), rtol=1e-6)
    assert (res.metrics["liquidated_usd_borrower"] > 0).all()
    off = firesale.simulate(sc, seed=1, channels=("venues", "liquidators"), focus="borrower")
    assert (off.metrics["liquidated_usd_borrower"] == 0).all()


@pytest.mark.parametrize(
    ("gov", "fragment"),
    [
        ('token_of = "nobody"', "assets.GOV.token_of: must name a defined protocol, got 'nobody'"),
        ("loss_elasticity = -1", "assets.GOV.loss_elasticity"),
    ],
)
def test_bad_protocol_tokens_are_refused(gov, fragment):
    src = text(lender_accounts=UNDERWATER).replace('token_of = "lender"\n', "")
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(
            src.replace("token_supply = 1000\n", "token_supply = 1000\n" + gov + "\n"), source="s.toml"
        )
    assert fragment in "\n".join(exc.value.problems)


def test_an_elasticity_without_a_protocol_is_refused():
    src = text(lender_accounts=UNDERWATER).replace('token_of = "lender"\ntoken_supply = 1000\n', "")
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(src.replace("price = 10.0\n", "price = 10.0\nloss_elasticity = 2\n"), source="s.toml")
    assert "'loss_elasticity' has no effect without 'token_of'" in "\n".join(exc.value.problems)


def test_a_derived_price_that_never_settles_names_the_step_and_the_paths(monkeypatch):
    # A receipt token whose issuer answers alternately 1x and 2x its underlying has no fixed point.
    calls = {"n": 0}

    def flip_flop(self, state, market, accounts):
        calls["n"] += 1
        return {"aWETH": market[:, 0] * (1 + calls["n"] % 2)}

    monkeypatch.setattr(LendingMarket, "token_prices", flip_flop)
    src = text(lender_accounts=UNDERWATER).replace(
        '[[assets]]\nname = "USDC"', '[[assets]]\nname = "aWETH"\nprice = 2000.0\n[[assets]]\nname = "USDC"'
    ).replace('oracle = "weth"\nvenues = ["weth-book"]\n', 'oracle = "weth"\nvenues = ["weth-book"]\n'
              'receipt_token = "aWETH"\ntotal_supply = 10\n', 1)  # fmt: skip
    with pytest.raises(SimulationError, match=r"did not converge at step 0 on 2 path\(s\) \(0, 1\) after 50"):
        firesale.simulate(parse_scenario(src), seed=1)

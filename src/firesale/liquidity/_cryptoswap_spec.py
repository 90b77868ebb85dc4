"""Scenario spec of a two-coin Curve CryptoSwap (v2) pool, registered as venue type ``"cryptoswap"``.

Units follow the contract's public getters converted to plain numbers: ``A`` as ``A()`` reports it (``A * N**N *
10000``), fees in basis points (``mid_fee() / 1e6``), the 1e18-scaled parameters divided by 1e18. The CRV/ETH pool
``0x8301AE4fc9c624d1D396cbDAa1ed877821D7C511`` was deployed with ``A = 400000``, ``gamma = 1.45e-4``,
``mid_fee_bps = 26``, ``out_fee_bps = 45``, ``fee_gamma = 2.3e-4``, ``allowed_extra_profit = 2e-6``,
``adjustment_step = 1.46e-4``, ``ma_half_time = 600`` and ``admin_fee = 0.5`` (curvefi/curve-crypto-contract
``scripts/deploy_mainnet_crv_pool.py``, commit 330175e17e5bab206f13d0a3a4b94bbcf07829ce).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from firesale.scenario._types import Fraction, Name, Positive, SpecModel

if TYPE_CHECKING:
    from firesale.liquidity.cryptoswap import CryptoSwapPool

__all__ = ["CryptoSwapSpec"]


class CryptoSwapSpec(SpecModel):
    """A two-coin Curve CryptoSwap (v2) pool: an invariant re-centred on an internal, moving price scale."""

    type: Literal["cryptoswap"]
    name: Name
    coins: tuple[Name, Name] = Field(
        description="Coin 0 (the numeraire of price_scale, e.g. ETH) and coin 1 (e.g. CRV)."
    )
    balances: tuple[Positive, Positive] = Field(description="Balances of each coin in token units.")
    A: Annotated[float, Field(ge=4_000, le=4e9, allow_inf_nan=False)] = Field(
        description="A() as the contract reports it, A * N**N * 10000 (400000 for CRV/ETH)."
    )
    gamma: Annotated[float, Field(ge=1e-8, le=0.02, allow_inf_nan=False)] = Field(
        description="gamma() / 1e18 (1.45e-4 for CRV/ETH)."
    )
    mid_fee_bps: Annotated[float, Field(ge=0.0, le=10_000, allow_inf_nan=False)] = Field(
        description="Fee at balance in basis points, mid_fee() / 1e6 (26 for CRV/ETH)."
    )
    out_fee_bps: Annotated[float, Field(ge=0.0, le=10_000, allow_inf_nan=False)] = Field(
        description="Fee far from balance in basis points, out_fee() / 1e6 (45 for CRV/ETH)."
    )
    fee_gamma: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = Field(
        description="fee_gamma() / 1e18 (2.3e-4 for CRV/ETH)."
    )
    price_scale: Positive = Field(description="Starting price_scale: the price of coin 1 in units of coin 0.")
    ma_half_time: Annotated[float, Field(gt=0.0, lt=604_800, allow_inf_nan=False)] = Field(
        description="Half-life of the price oracle's EMA in seconds (600 for CRV/ETH)."
    )
    allowed_extra_profit: Fraction = Field(description="allowed_extra_profit() / 1e18 (2e-6 for CRV/ETH).")
    adjustment_step: Fraction = Field(description="adjustment_step() / 1e18 (1.46e-4 for CRV/ETH).")
    admin_fee: Fraction = Field(default=0.5, description="admin_fee() / 1e10: the DAO's share of the profit.")
    price_oracle: Positive | None = Field(
        default=None, description="Starting price oracle (coin 1 in coin 0); price_scale if omitted."
    )

    @model_validator(mode="after")
    def _consistent(self) -> CryptoSwapSpec:
        if self.coins[0] == self.coins[1]:
            raise ValueError(f"'coins' must be two distinct coins, got {list(self.coins)!r}")
        if self.mid_fee_bps > self.out_fee_bps:
            raise ValueError(
                f"'mid_fee_bps' must be <= 'out_fee_bps' ({self.out_fee_bps:g}), got {self.mid_fee_bps:g}"
            )
        return self

    def build(self) -> CryptoSwapPool:
        """The :class:`firesale.liquidity.cryptoswap.CryptoSwapPool` this spec describes."""
        from firesale.liquidity.cryptoswap import CryptoSwapPool

        return CryptoSwapPool(
            self.name,
            coins=self.coins,
            balances=self.balances,
            A=self.A,
            gamma=self.gamma,
            mid_fee_bps=self.mid_fee_bps,
            out_fee_bps=self.out_fee_bps,
            fee_gamma=self.fee_gamma,
            price_scale=self.price_scale,
            ma_half_time=self.ma_half_time,
            allowed_extra_profit=self.allowed_extra_profit,
            adjustment_step=self.adjustment_step,
            admin_fee=self.admin_fee,
            price_oracle=self.price_oracle,
        )

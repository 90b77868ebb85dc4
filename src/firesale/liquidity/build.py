"""Build venue objects from their scenario specs."""

from __future__ import annotations

from pathlib import Path

from firesale.liquidity._venue import Venue
from firesale.scenario.schema import ConcentratedSpec, ConstantProductSpec, CryptoSwapSpec, StableSwapSpec

__all__ = ["build_pool"]


def build_pool(
    spec: ConstantProductSpec | ConcentratedSpec | StableSwapSpec | CryptoSwapSpec, base_dir: Path
) -> Venue:
    """The vectorized pool a venue spec describes (snapshots resolve against ``base_dir``)."""
    if isinstance(spec, CryptoSwapSpec):
        return spec.build()
    if isinstance(spec, ConstantProductSpec):
        from firesale.liquidity.constant_product import ConstantProductPool

        return ConstantProductPool(spec.name, coins=spec.coins, reserves=spec.reserves, fee_bps=spec.fee_bps)
    if isinstance(spec, StableSwapSpec):
        from firesale.liquidity.stableswap import StableSwapPool

        return StableSwapPool(
            spec.name, coins=tuple(spec.coins), balances=spec.balances, A=spec.A, fee_bps=spec.fee_bps
        )
    from firesale.liquidity.concentrated import ConcentratedLiquidityPool

    if spec.snapshot is not None:
        from firesale.data import load_uniswap_v3_ticks

        ticks, meta = load_uniswap_v3_ticks(spec.snapshot, spec.snapshot_meta, base_dir=base_dir)
        return ConcentratedLiquidityPool.from_snapshot(
            ticks,
            sqrt_price_x96=int(meta["sqrtPriceX96"]),
            liquidity=float(meta["liquidity"]),
            fee=int(round(spec.fee_bps * 100)),
            tick_spacing=spec.tick_spacing,
            decimals0=spec.decimals[0],
            decimals1=spec.decimals[1],
            coins=spec.coins,
            name=spec.name,
        )
    return ConcentratedLiquidityPool(
        spec.name, coins=spec.coins, ranges=spec.ranges or [], tick_spacing=spec.tick_spacing,
        decimals=spec.decimals, price=spec.price, fee_bps=spec.fee_bps,
    )  # fmt: skip

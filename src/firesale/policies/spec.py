"""The scenario entries ``[[policies]]``: a trigger, an action, a delay, and how long the action holds.

A policy is what a risk team, a guardian or governance does when something is seen: when the *trigger* (a series
compared with a threshold) holds on a path, the *action* is taken on that path ``delay`` seconds later (a guardian
multisig acts within a block, a governance vote and its timelock take hours), through the protocol contract
(:meth:`firesale.protocols.ProtocolModel.controls`). Once in force the action holds for ``duration`` seconds, or
until the trigger has been clear for more than ``grace`` seconds (the grace period of Aave's
``PriceOracleSentinel``), or, with neither, to the end of the run (a pause that only another vote lifts).

These specs check the entry alone; names (protocol, oracle, asset, the protocol's controls) and windows against the
step are checked with the whole scenario by :func:`firesale.policies.check_policies`.

Example::

    [[policies]]
    name = "circuit-breaker"
    protocol = "aave-v3-core"
    grace = 1800
    trigger = { series = "oracle_move", oracle = "chainlink-eth-usd", window = 3600, comparison = ">", threshold = 0.05 }
    action = { type = "pause_liquidations" }
"""

from __future__ import annotations

import difflib
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from firesale.scenario._types import Finite, Name, NonNegative, Positive, SpecModel, refuse

__all__ = ["ACTIONS", "FLAGS", "SERIES", "ActionSpec", "PolicySpec", "TriggerSpec"]

#: Trigger series: name -> (keys it needs, what it is). Evaluated per path at each step, after the step's oracle
#: updates and before its cascade; books and flags are those at the end of the previous step.
SERIES: dict[str, tuple[tuple[str, ...], str]] = {
    "oracle_move": (("oracle", "window"), "|answer now / answer `window` seconds ago - 1| of an oracle"),
    "oracle_change": (
        ("oracle", "window"),
        "answer now / answer `window` seconds ago - 1 of an oracle (signed)",
    ),
    "realised_volatility": (
        ("asset", "window"),
        "an asset's realised daily volatility at market: EWMA of squared log returns, half-life `window` seconds",
    ),
    "bad_debt": (
        (),
        "a protocol's bad debt at the end of the previous step, USD (default: the policy's protocol)",
    ),
    "flag": (
        ("flag",),
        "a failure flag of the previous step (liquidity, unclearable, oracle, failure_state)",
    ),
    "time": ((), "seconds since the start of the run"),
    "garch_forecast": (
        ("asset",),
        "an asset's GARCH(1,1) forecast of daily volatility, from the scenario's fitted GARCH market and updated "
        "each step with the path's returns at market; `window` (optional) averages it over that many seconds ahead",
    ),
    "depth": (("venue",), "a venue's depth now over its depth at the start (1 = as deep as at the start)"),
    "utilisation": (
        ("asset",),
        "borrows / supply of a lending reserve (`asset`; needs its total_supply) as the previous step left it "
        "(default protocol: the policy's)",
    ),
}
#: Failure flags a ``flag`` trigger may name (:mod:`firesale.engine.accounting`); ``failure_state`` is two or more.
FLAGS = ("liquidity", "unclearable", "oracle", "failure_state")
#: Action types: name -> (keys it needs, what it does).
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "pause_liquidations": ((), "stop liquidations (those of accounts below `below_health_factor` go on)"),
    "scale": (("parameter", "factor"), "multiply a protocol parameter by `factor`"),
    "scale_with_trigger": (
        ("parameter",),
        "multiply a parameter by (trigger value / threshold), rounded up to a multiple of 0.05, within [1, "
        "max_factor]: margin that grows with volatility",
    ),
    "backstop": (("share",), "add `share` of the protocol's starting debt (USD) to its first-loss reserves"),
    "pause_borrowing": ((), "stop new borrows (Aave: borrowing disabled); liquidations and repayments go on"),
    "switch_oracle": (
        ("asset", "oracle"),
        "the protocol reads `oracle` (another feed of the same asset) for `asset` instead of its own",
    ),
    "deploy_reserve": (
        ("venue", "share"),
        "add protocol-owned liquidity worth `share` of the protocol's starting debt (USD) to pool `venue`, once",
    ),
}
_TRIGGER_KEYS = ("oracle", "asset", "protocol", "window", "flag", "venue")
_ACTION_KEYS = (
    "parameter",
    "factor",
    "max_factor",
    "share",
    "below_health_factor",
    "asset",
    "oracle",
    "venue",
)
_OPTIONAL = {
    "bad_debt": ("protocol",),
    "utilisation": ("protocol",),
    "scale_with_trigger": ("max_factor",),
    "pause_liquidations": ("below_health_factor",),
    "garch_forecast": ("window",),
}


class TriggerSpec(SpecModel):
    """``series comparison threshold``, per path: e.g. ``oracle_move > 0.05`` over a one-hour window."""

    series: str = Field(description="One of: " + "; ".join(f"{k}: {v[1]}" for k, v in SERIES.items()) + ".")
    oracle: Name | None = Field(default=None, description="The oracle (oracle_move, oracle_change).")
    asset: Name | None = Field(
        default=None, description="The asset (realised_volatility; utilisation: the reserve)."
    )
    protocol: Name | None = Field(
        default=None, description="The protocol (bad_debt, utilisation; default the policy's)."
    )
    venue: Name | None = Field(default=None, description="The venue (depth).")
    window: Positive | None = Field(
        default=None,
        description="Seconds: the look-back of an oracle move, the half-life of a volatility; a multiple of dt; "
        "for garch_forecast, the horizon the forecast is averaged over (a multiple of the GARCH's native_dt).",
    )
    flag: Literal["liquidity", "unclearable", "oracle", "failure_state"] | None = Field(
        default=None, description="The failure flag (flag): it triggers while raised."
    )
    comparison: Literal["<", "<=", ">", ">="] | None = Field(
        default=None, description="How the series is compared."
    )
    threshold: Finite | None = Field(default=None, description="What the series is compared with.")

    @field_validator("series")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in SERIES:
            hint = difflib.get_close_matches(v, list(SERIES), n=1, cutoff=0.5)
            raise ValueError(
                f"unknown series {v!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f"; triggers read: {', '.join(SERIES)}"
            )  # fmt: skip
        return v

    @model_validator(mode="after")
    def _keys_of_the_series(self) -> TriggerSpec:
        needs = SERIES[self.series][0]
        missing = [k for k in needs if getattr(self, k) is None]
        if missing:
            raise ValueError(f"series {self.series!r} needs {', '.join(repr(k) for k in missing)}")
        allowed = set(needs) | set(_OPTIONAL.get(self.series, ()))
        refuse({k: getattr(self, k) for k in _TRIGGER_KEYS if getattr(self, k) is not None and k not in allowed},
               f"has no effect on series {self.series!r}; remove it")  # fmt: skip
        if self.series == "flag":
            refuse({k: getattr(self, k) for k in ("comparison", "threshold") if getattr(self, k) is not None},
                   "has no effect on a flag, which triggers while raised; remove it")  # fmt: skip
        elif self.comparison is None or self.threshold is None:
            raise ValueError(f"series {self.series!r} needs 'comparison' and 'threshold'")
        return self


class ActionSpec(SpecModel):
    """What the policy does to its protocol while in force."""

    type: Literal[
        "pause_liquidations",
        "scale",
        "scale_with_trigger",
        "backstop",
        "switch_oracle",
        "deploy_reserve",
        "pause_borrowing",
    ] = Field(description="One of: " + "; ".join(f"{k}: {v[1]}" for k, v in ACTIONS.items()) + ".")
    parameter: Name | None = Field(
        default=None,
        description="A parameter the protocol offers (lending markets: reserves.<asset>.liquidation_threshold, "
        "reserves.<asset>.liquidation_margin, i.e. 1 - threshold, reserves.<asset>.liquidation_bonus, and "
        "reserves.<asset>.debt_ceiling where the reserve has one).",
    )
    factor: Positive | None = Field(default=None, description="The multiplier (scale).")
    max_factor: Annotated[float, Field(ge=1, allow_inf_nan=False)] | None = Field(
        default=None, description="scale_with_trigger: the largest multiplier (default 3)."
    )
    share: Positive | None = Field(
        default=None,
        description="Backstop or deployed reserve capital over the protocol's starting debt (0.01 = 1 %).",
    )
    asset: Name | None = Field(
        default=None, description="switch_oracle: the protocol's asset whose oracle switches."
    )
    oracle: Name | None = Field(
        default=None, description="switch_oracle: the feed read instead (an oracle of the same asset)."
    )
    venue: Name | None = Field(
        default=None, description="deploy_reserve: the pool the reserve is deposited in."
    )
    below_health_factor: float | None = Field(
        default=None, gt=0, lt=1, allow_inf_nan=False,
        description="pause_liquidations: accounts below this health factor may still be liquidated (Aave's "
        "sentinel lets HF < 0.95 through); default none.",
    )  # fmt: skip

    @model_validator(mode="after")
    def _keys_of_the_type(self) -> ActionSpec:
        needs = ACTIONS[self.type][0]
        missing = [k for k in needs if getattr(self, k) is None]
        if missing:
            raise ValueError(f"action {self.type!r} needs {', '.join(repr(k) for k in missing)}")
        allowed = set(needs) | set(_OPTIONAL.get(self.type, ()))
        refuse({k: getattr(self, k) for k in _ACTION_KEYS if getattr(self, k) is not None and k not in allowed},
               f"has no effect on action {self.type!r}; remove it")  # fmt: skip
        return self

    @property
    def control(self) -> str:
        """The protocol control the action needs (:meth:`ProtocolModel.controls`)."""
        if self.type in ("scale", "scale_with_trigger"):
            return str(self.parameter)
        if self.type in ("switch_oracle", "deploy_reserve"):
            return self.type  # the engine's oracles and venues, not one of the protocol's own controls
        if self.type == "pause_borrowing":
            return "pause_borrowing"
        return "reserve_usd" if self.type == "backstop" else "pause_liquidations"


class PolicySpec(SpecModel):
    """One policy: trigger, action, delay, and how long the action holds (see the module docstring)."""

    name: Name
    protocol: Name = Field(description="The protocol the action is taken on.")
    trigger: TriggerSpec
    action: ActionSpec
    delay: NonNegative = Field(
        default=0.0,
        description="Seconds from the trigger to the action: 0 acts in the same step, 12 in the next block, a "
        "governance vote and timelock take hours. A decision once taken is carried out.",
    )
    duration: Positive | None = Field(default=None, description="Seconds the action holds once in force.")
    grace: NonNegative | None = Field(
        default=None,
        description="The action holds until the trigger has been clear for more than this many seconds (Aave "
        "PriceOracleSentinel's grace period).",
    )

    @model_validator(mode="after")
    def _release(self) -> PolicySpec:
        if self.duration is not None and self.grace is not None:
            raise ValueError("give at most one of 'duration' and 'grace' (how long the action holds)")
        if self.action.type == "backstop":
            refuse({k: getattr(self, k) for k in self.given("duration", "grace")},
                   "has no effect on a backstop: capital once deployed absorbs losses to the end; remove it")  # fmt: skip
        if self.action.type == "deploy_reserve":
            refuse({k: getattr(self, k) for k in self.given("duration", "grace")},
                   "has no effect on deploy_reserve: liquidity once deposited stays in the pool; remove it")  # fmt: skip
        if self.action.type == "scale_with_trigger":
            t = self.trigger
            if t.series == "flag" or t.comparison not in (">", ">=") or not (t.threshold or 0) > 0:
                raise ValueError(
                    "action 'scale_with_trigger' scales by the trigger's value over its threshold: it needs a "
                    f"trigger 'series > threshold' with threshold > 0, got {t.series} {t.comparison} {t.threshold}"
                )
        return self

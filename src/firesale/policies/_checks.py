"""Checks of ``[[policies]]`` against the rest of the scenario: names, the protocol's controls, windows.

Run by the loader with the reference checks (:func:`firesale.scenario.load_scenario`), so a policy that names an
oracle the scenario lacks, or a parameter its protocol does not have, is rejected before anything runs, one
``FILE: key.path: rule, got VALUE`` line per problem.
"""

from __future__ import annotations

import difflib
from typing import Any

__all__ = ["check_policies"]


def _hint(value: str, names: list[str]) -> str:
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_policies(scenario: Any) -> list[str]:
    """Problems of the scenario's policies (empty when none)."""
    from firesale.protocols import protocol_type

    spec, source = scenario.spec, scenario.source
    out: list[str] = []

    def bad(where: str, rule: str, value: Any) -> None:
        out.append(f"{source}: {where}: {rule}, got {value!r}")

    protocols = {p.name: p for p in spec.protocols}
    oracles = [o.name for o in spec.oracles]
    assets = [a.name for a in spec.assets]
    venues = {v.name: v.type for v in spec.venues}
    dt = spec.simulation.dt
    seen: dict[str, int] = {}
    used: dict[tuple[str, str], str] = {}
    for pol in spec.policies:
        where = f"policies.{pol.name}"
        if pol.name in seen:
            bad(f"{where}.name", "policy names must be unique", pol.name)
        seen[pol.name] = 1
        t, a = pol.trigger, pol.action
        if t.oracle is not None and t.oracle not in oracles:
            bad(f"{where}.trigger.oracle", "must name a defined oracle" + _hint(t.oracle, oracles), t.oracle)
        if t.asset is not None and t.asset not in assets:
            bad(f"{where}.trigger.asset", "must name a defined asset" + _hint(t.asset, assets), t.asset)
        if t.protocol is not None and t.protocol not in protocols:
            bad(f"{where}.trigger.protocol", "must name a defined protocol" + _hint(t.protocol, list(protocols)),
                t.protocol)  # fmt: skip
        if t.series in ("oracle_move", "oracle_change") and t.window is not None:
            steps = t.window / dt
            if abs(steps - round(steps)) > 1e-9 or round(steps) < 1:
                bad(
                    f"{where}.trigger.window",
                    f"must be a positive multiple of simulation.dt ({dt:g} s)",
                    t.window,
                )
        if t.venue is not None and t.venue not in venues:
            bad(f"{where}.trigger.venue", "must name a defined venue" + _hint(t.venue, list(venues)), t.venue)
        if t.series == "garch_forecast" and t.asset in assets:
            out += _check_garch(spec, t, dt, f"{where}.trigger", bad)
        proto = protocols.get(pol.protocol)
        if proto is None:
            bad(f"{where}.protocol", "must name a defined protocol" + _hint(pol.protocol, list(protocols)),
                pol.protocol)  # fmt: skip
            continue
        if a.type == "switch_oracle":
            _check_switch(spec, pol, f"{where}.action", bad)
            slot = (pol.protocol, f"switch_oracle:{a.asset}")
            if slot in used:
                bad(f"{where}.action.asset", f"policy {used[slot]} already switches the oracle of {a.asset} of "
                    f"{pol.protocol} (one policy per control)", a.asset)  # fmt: skip
            used[slot] = pol.name
            continue
        if a.type == "deploy_reserve":
            kind = venues.get(str(a.venue))
            if kind is None:
                bad(f"{where}.action.venue", "must name a defined venue" + _hint(str(a.venue), list(venues)),
                    a.venue)  # fmt: skip
            elif kind == "orderbook":
                pools = [n for n, k in venues.items() if k != "orderbook"]
                bad(f"{where}.action.venue", "must name a pool (an order book's depth is off-chain, no deposit "
                    f"reaches it); pools here: {', '.join(pools) or 'none'}", a.venue)  # fmt: skip
            else:
                lp = [x.name for x in spec.assets if getattr(x, "lp_of", None) == a.venue]
                if lp:
                    bad(f"{where}.action.venue", f"the pool's LP token {lp[0]} is priced from the pool's value over "
                        "its supply, which a protocol deposit (minting no LP tokens here) would inflate", a.venue)  # fmt: skip
            continue
        controls = protocol_type(proto.type).controls(proto)
        if a.control not in controls:
            key = "parameter" if a.type in ("scale", "scale_with_trigger") else "type"
            offered = ", ".join(sorted(controls)) if controls else "none"
            bad(f"{where}.action.{key}",
                f"protocol {pol.protocol} ({proto.type}) has no such control{_hint(a.control, list(controls))}; "
                f"it offers: {offered}", a.control if key == "parameter" else a.type)  # fmt: skip
        elif a.type != "backstop":
            other = used.get((pol.protocol, a.control))
            if other is not None:
                bad(f"{where}.action", f"policy {other} already acts on {a.control} of {pol.protocol} (one policy "
                    "per control: their asks would overwrite each other)", a.control)  # fmt: skip
            used[(pol.protocol, a.control)] = pol.name
    return out


def _check_garch(spec: Any, t: Any, dt: float, where: str, bad: Any) -> list[str]:
    """A ``garch_forecast`` trigger needs the scenario's GARCH coefficients for its asset, on a grid of dt."""
    from firesale.policies.triggers import garch_params

    params = garch_params(spec, str(t.asset))
    if params is None:
        model = getattr(spec.market, "model", None)
        why = (f"the market is {model!r}" if model != "garch" else
               "market.vol, alpha or beta has no entry for it (a derived asset follows its parent: watch the parent)")  # fmt: skip
        bad(f"{where}.asset", f"a GARCH forecast uses the scenario's fitted GARCH market (market.model = 'garch' "
            f"with vol, alpha and beta for the asset); {why}", t.asset)  # fmt: skip
        return []
    h = params["native_dt"]
    steps = h / dt
    if abs(steps - round(steps)) > 1e-9 or round(steps) < 1:
        bad(f"{where}.asset", f"the GARCH's market.native_dt ({h:g} s) must be a whole number of steps of "
            f"simulation.dt ({dt:g} s) for the forecast to be filtered step by step", t.asset)  # fmt: skip
    if t.window is not None:
        periods = t.window / h
        if abs(periods - round(periods)) > 1e-9 or round(periods) < 1:
            bad(f"{where}.window", f"must be a positive multiple of the GARCH's market.native_dt ({h:g} s)",
                t.window)  # fmt: skip
    return []


def _mentions(value: Any, name: str) -> bool:
    if isinstance(value, dict):
        return any(_mentions(v, name) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions(v, name) for v in value)
    return value == name


def _check_switch(spec: Any, pol: Any, where: str, bad: Any) -> None:
    """``switch_oracle``: the asset's own oracle, another feed of the same asset, read by this protocol alone."""
    a = pol.action
    proto = next(p for p in spec.protocols if p.name == pol.protocol)
    reserves = getattr(proto, "reserves", None)
    if not isinstance(reserves, dict):
        bad(f"{where}.type", f"protocol {pol.protocol} ({proto.type}) does not name an oracle per asset; "
            "switch_oracle acts on lending markets' reserves.<asset>.oracle", a.type)  # fmt: skip
        return
    if a.asset not in reserves:
        bad(
            f"{where}.asset",
            f"must be a reserve of {pol.protocol}" + _hint(str(a.asset), list(reserves)),
            a.asset,
        )
        return
    own = getattr(reserves[a.asset], "oracle", None)
    if own is None:
        bad(f"{where}.asset", f"{pol.protocol} reads {a.asset} at market (no oracle to switch)", a.asset)
        return
    oracles = {o.name: o for o in spec.oracles}
    target = oracles.get(str(a.oracle))
    if target is None:
        bad(
            f"{where}.oracle",
            "must name a defined oracle (feed)" + _hint(str(a.oracle), list(oracles)),
            a.oracle,
        )
        return
    if a.oracle == own:
        bad(f"{where}.oracle", f"is the oracle {pol.protocol} already reads for {a.asset}", a.oracle)
    elif target.asset != oracles[own].asset:
        bad(f"{where}.oracle", f"must be a feed of {oracles[own].asset} (the asset of {own}); it prices "
            f"{target.asset}", a.oracle)  # fmt: skip
    others = [p.name for p in spec.protocols if p.name != pol.protocol and _mentions(p.model_dump(), own)]
    if others:
        bad(f"{where}.asset", f"its oracle {own} is also read by {', '.join(others)}: a switch would change what "
            "they read too", a.asset)  # fmt: skip

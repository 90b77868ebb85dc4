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
        proto = protocols.get(pol.protocol)
        if proto is None:
            bad(f"{where}.protocol", "must name a defined protocol" + _hint(pol.protocol, list(protocols)),
                pol.protocol)  # fmt: skip
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

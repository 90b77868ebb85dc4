"""Load a scenario (file or built-in name), validate everything before anything runs, build the runtime world."""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from pydantic import TypeAdapter, ValidationError

from firesale.exceptions import FiresaleError, ScenarioError
from firesale.scenario._errors import format_validation_error
from firesale.scenario.schema import ConcentratedSpec, LendingSpec, OrderBookSpec, ScenarioSpec

__all__ = ["Positions", "Scenario", "builtin_scenarios", "builtin_text", "load_scenario", "parse_scenario"]

_BUILTIN = "firesale.scenario.builtin"
_POLICIES = "firesale.scenario.policies"
_POSITION_COLUMNS = ("account", "asset", "collateral_amount", "debt_amount")
#: File kinds a data reference may name: tables, and the JSON pool state that goes with a tick table.
_TABLES = (".csv", ".csv.gz", ".parquet")
_LIST_SECTIONS = ("assets", "venues", "oracles", "protocols", "attacks")


@dataclass(frozen=True)
class Positions:
    """One lending market's accounts as arrays: ``collateral`` and ``debt`` of shape (n_accounts, n_reserves),
    and ``emode``, each account's e-mode category id (0: none)."""

    accounts: np.ndarray
    collateral: np.ndarray
    debt: np.ndarray
    emode: np.ndarray

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: the parsed spec plus everything read from files it references.

    Attributes
    ----------
    spec : ScenarioSpec
        The validated file contents (immutable); derive variants with ``spec.model_copy(update=...)`` and
        :func:`parse_scenario`.
    source : str
        File path or built-in name it came from.
    text : str
        The TOML text (stored with every run).
    positions : dict of str to Positions
        Per lending protocol, the accounts as arrays.
    """

    spec: ScenarioSpec
    source: str
    base_dir: Path
    text: str
    positions: dict[str, Positions] = field(repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def content_hash(self) -> str:
        """sha256 of the scenario text (and of referenced positions, through their arrays)."""
        h = hashlib.sha256(self.text.encode())
        for name in sorted(self.positions):
            p = self.positions[name]
            h.update(np.ascontiguousarray(p.collateral).tobytes())
            h.update(np.ascontiguousarray(p.debt).tobytes())
        return h.hexdigest()


def builtin_scenarios() -> dict[str, str]:
    """Built-in scenario names mapped to their one-line descriptions."""
    out = {}
    for entry in sorted(resources.files(_BUILTIN).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text())
            out[entry.name.removesuffix(".toml")] = str(data.get("description", "")).strip().splitlines()[0]
    return out


def builtin_text(name: str) -> str:
    """The TOML text of a built-in scenario, ready to copy and edit."""
    entry = resources.files(_BUILTIN).joinpath(f"{name}.toml")
    if not entry.is_file():
        known = ", ".join(builtin_scenarios())
        raise ScenarioError(f"{name}: no built-in scenario of that name; built-ins are: {known}")
    return entry.read_text()


def builtin_policies() -> dict[str, str]:
    """Built-in policy overlays (``[[policies]]`` tables written for the flagship book) mapped to their first
    comment line."""
    out = {}
    for entry in sorted(resources.files(_POLICIES).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            first = entry.read_text().splitlines()[0] if entry.read_text() else ""
            out[entry.name.removesuffix(".toml")] = first.lstrip("# ").strip()
    return out


def with_policies(scenario: Scenario, policies: Sequence[str]) -> Scenario:
    """``scenario`` with the ``[[policies]]`` of each overlay appended: a built-in policy name (see
    :func:`builtin_policies`) or a TOML file holding only ``[[policies]]`` tables. Validated as one scenario."""
    if not policies:
        return scenario
    texts, names = [scenario.text], []
    for ref in policies:
        path = Path(ref)
        if path.suffix != ".toml" and str(ref) in builtin_policies():
            texts.append(resources.files(_POLICIES).joinpath(f"{ref}.toml").read_text())
        elif path.is_file():
            try:
                texts.append(path.read_text())
            except (OSError, UnicodeDecodeError) as exc:
                raise ScenarioError(f"{ref}: cannot be read: {exc}") from exc
        else:
            raise ScenarioError(
                f"--policy: must be a policy file or a built-in policy ({', '.join(builtin_policies())}), got {ref!r}"
            )
        try:
            extra = tomllib.loads(texts[-1])
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{ref}: TOML syntax error: {exc}") from exc
        if set(extra) - {"policies"}:
            raise ScenarioError(
                f"{ref}: a policy overlay holds only [[policies]] tables, got {sorted(set(extra) - {'policies'})}"
            )
        names.append(path.stem)
    source = f"{scenario.source}+{'+'.join(names)}"
    return parse_scenario("\n".join(texts), source=source, base_dir=scenario.base_dir)


def load_scenario(path_or_name: str | os.PathLike[str]) -> Scenario:
    """Load and validate a scenario file, or a built-in scenario by name.

    Parameters
    ----------
    path_or_name : str or path
        A TOML file, or the name of a built-in scenario (see ``firesale scenarios``).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        With one ``FILE: key.path: rule, got VALUE`` line per problem, before anything runs.

    Examples
    --------
    >>> import firesale
    >>> sc = firesale.load_scenario("toy-spiral")
    >>> sc.name
    'toy-spiral'
    """
    text_path = Path(path_or_name)
    if text_path.suffix != ".toml" and not text_path.exists() and str(path_or_name) in builtin_scenarios():
        name = str(path_or_name)
        text = builtin_text(name)
        return parse_scenario(text, source=name, base_dir=Path("."))
    if not text_path.is_file():
        hint = f"; built-ins are: {', '.join(builtin_scenarios())}" if text_path.suffix != ".toml" else ""
        raise ScenarioError(f"{path_or_name}: no such scenario file{hint}")
    try:
        text = text_path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path_or_name}: cannot be read: {exc}") from exc
    return parse_scenario(text, source=str(path_or_name), base_dir=text_path.resolve().parent)


def parse_scenario(text: str, *, source: str = "<string>", base_dir: Path | None = None) -> Scenario:
    """Validate scenario TOML text; relative file references resolve against ``base_dir``."""
    base_dir = base_dir or Path(".")
    # Arrays or tables nested hundreds deep exhaust Python's recursion in the parser, the validator or the message.
    too_deep = f"{source}: nesting: arrays and tables must nest at most a few hundred levels deep, got deeper"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: TOML syntax error: {exc}") from exc
    except RecursionError as exc:
        raise ScenarioError(too_deep) from exc
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        try:
            problems = format_validation_error(exc, data, source, ScenarioSpec)
            # Report the reference and data problems of the sections that did validate in the same pass.
            problems += _check_world(_partial(data), base_dir, source)[0]
        except RecursionError:
            problems = [too_deep]
        raise ScenarioError(problems) from exc
    except RecursionError as exc:
        raise ScenarioError(too_deep) from exc
    problems, positions = _check_world(spec, base_dir, source)
    if problems:
        raise ScenarioError(problems)
    return Scenario(spec=spec, source=source, base_dir=base_dir, text=text, positions=positions)


def _check_world(spec: Any, base_dir: Path, source: str) -> tuple[list[str], dict[str, Positions]]:
    """Every check beyond the schema: references between sections, position books, the data files the run reads.

    ``spec`` is a :class:`ScenarioSpec`, or after a schema error the namespace :func:`_partial` builds from the
    sections and list items that did validate (``None`` for a section that did not).
    """
    problems = _check_references(spec, source)
    positions: dict[str, Positions] = {}
    defined = {a.name for a in spec.assets or ()}
    for proto in _lending(spec):
        g = proto.generate
        if g is not None and not {g.collateral, g.debt} <= set(proto.reserves) & defined:
            continue  # already reported as an undefined reference
        try:
            positions[proto.name] = _positions(proto, spec, base_dir, source)
        except ScenarioError as exc:
            problems += exc.problems
    problems += _check_sales(spec, positions, source)
    if spec.market is not None and spec.assets is not None and not getattr(spec, "invalid", {}).get("assets"):
        market_problems = _check_market(spec, base_dir, source)
        problems += market_problems or _check_market_data(spec, base_dir, source)
    problems += _check_venue_data(spec, base_dir, source)
    problems += _check_gas_data(spec, base_dir, source)
    if not problems and isinstance(spec, ScenarioSpec):
        problems += _check_models(
            Scenario(spec=spec, source=source, base_dir=base_dir, text="", positions=positions)
        )
    return problems, positions


def _check_models(scenario: Scenario) -> list[str]:
    """Build every protocol model as the run will (a model checks its own references in ``build``), and check the
    protocol series ``simulation.record`` names against what each model offers."""
    from firesale.protocols import protocol_type

    source, spec = scenario.source, scenario.spec
    out: list[str] = []
    series: dict[str, dict[str, str]] = {}
    for i, p in enumerate(spec.protocols):
        try:
            series[p.name] = protocol_type(p.type).build(p, scenario).series()
        except ScenarioError as exc:
            out += [line if line.startswith(f"{source}:") else f"{source}: {line}" for line in exc.problems]
        except FiresaleError as exc:
            out.append(f"{source}: protocols[{i}] ({p.name}): cannot be built ({exc}), got type {p.type!r}")
    for name in spec.simulation.record:
        protocol, dot, key = name.partition(".")
        if not dot or protocol not in series:
            if dot and not out:
                out.append(f"{source}: simulation.record: a protocol series names a protocol of the scenario "
                           f"({', '.join(series)}), got {name!r}")  # fmt: skip
            continue
        offered = series[protocol]
        if key != "*" and key not in offered:
            hint = difflib.get_close_matches(key, list(offered), n=1, cutoff=0.5)
            out.append(
                f"{source}: simulation.record: {protocol} records "
                + (", ".join(sorted(offered)) if offered else "no series of its own")
                + (
                    f" (or '{protocol}.*'); did you mean '{protocol}.{hint[0]}'?"
                    if hint
                    else f" (or '{protocol}.*')"
                )
                + f", got {name!r}"
            )
    if spec.policies:  # names, controls and windows of [[policies]] (firesale.policies)
        from firesale.policies import check_policies

        out += check_policies(scenario)
    # [agents.borrowers], [agents.lenders], and the reserve keys only they make act (supply_cap, total_supply)
    from firesale.agents.borrowers import check_borrowers
    from firesale.agents.holders import check_holders
    from firesale.agents.lenders import check_lenders

    out += check_borrowers(scenario) + check_lenders(scenario) + check_holders(scenario)
    from firesale.protocols.isolation import check_isolation  # debt ceilings against the book, the borrowing

    out += check_isolation(scenario)
    return out


def _partial(data: Any) -> SimpleNamespace:
    """The sections of a file that failed the schema which do validate on their own, list items one by one.

    ``invalid`` maps each list section to the names of its items that did not validate, so references to them are
    not reported a second time as undefined.
    """
    out = SimpleNamespace(invalid={k: set() for k in _LIST_SECTIONS})
    data = data if isinstance(data, dict) else {}
    for key, info in ScenarioSpec.model_fields.items():
        raw = data.get(key)
        if key in _LIST_SECTIONS:
            items = []
            item_type = TypeAdapter(info.annotation.__args__[0])  # type: ignore[union-attr]
            for item in raw if isinstance(raw, list) else []:
                try:
                    items.append(item_type.validate_python(item))
                except ValidationError:
                    name = item.get("name") if isinstance(item, dict) else None
                    out.invalid[key].add(name if isinstance(name, str) else None)
            setattr(out, key, items if isinstance(raw, list) or key not in data else None)
            continue
        if key not in data:
            value = None if info.is_required() else info.get_default(call_default_factory=True)
        else:
            try:
                value = TypeAdapter(info.annotation).validate_python(raw)
            except ValidationError:
                value = None
        setattr(out, key, value)
    return out


def _lending(spec: Any) -> list[LendingSpec]:
    """The lending markets among the protocols (other protocol types check their own references in ``build``)."""
    return [p for p in spec.protocols or () if isinstance(p, LendingSpec)]


def _market_driven(spec: Any) -> set[str]:
    """Assets the market model names (none known when the market section itself failed to validate)."""
    market = getattr(spec, "market", None)
    return set(market.referenced_assets()) if market is not None else set()


def _duplicates(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]


def _check_references(spec: Any, source: str) -> list[str]:
    out: list[str] = []

    def bad(path: str, rule: str, value: Any) -> None:
        out.append(f"{source}: {path}: {rule}, got {value!r}")

    # After a schema error, sections and items that did not validate are skipped, and names of invalid items count
    # as defined (their own errors are already reported).
    invalid: dict[str, set[str | None]] = getattr(spec, "invalid", {})
    sections = {k: getattr(spec, k) or [] for k in _LIST_SECTIONS}
    if any(getattr(spec, k) is None for k in _LIST_SECTIONS):
        return out  # a section is not even a list: references into it cannot be judged
    assets = {a.name: a for a in sections["assets"]}
    venues = {v.name: v for v in sections["venues"]}
    oracles = {o.name: o for o in sections["oracles"]}
    asset_names = set(assets) | invalid.get("assets", set())
    venue_names = set(venues) | invalid.get("venues", set())
    oracle_names = set(oracles) | invalid.get("oracles", set())
    spec = SimpleNamespace(**sections, agents=spec.agents, market=spec.market)
    for kind, names in (
        ("assets", [a.name for a in spec.assets]),
        ("venues", [v.name for v in spec.venues]),
        ("oracles", [o.name for o in spec.oracles]),
        ("protocols", [p.name for p in spec.protocols]),
    ):
        for dup in _duplicates(names):
            bad(f"{kind}.{dup}", "names must be unique", dup)

    for a in spec.assets:
        if a.derived_from is not None and a.derived_from not in asset_names:
            bad(f"assets.{a.name}.derived_from", "must name a defined asset", a.derived_from)
    for a in spec.assets:  # a derived asset must not depend on itself through any chain
        seen, cur = [a.name], a.derived_from
        while cur is not None and cur in assets:
            if cur in seen:
                bad(
                    f"assets.{a.name}.derived_from",
                    "derived asset depends on itself (" + " -> ".join([*seen, cur]) + ")",
                    a.derived_from,
                )
                break
            seen.append(cur)
            cur = assets[cur].derived_from

    books: set[str] = set()
    for v in spec.venues:
        coins = [v.asset] if isinstance(v, OrderBookSpec) else list(v.coins)
        for c in coins:
            if c not in asset_names:
                bad(
                    f"venues.{v.name}.{'asset' if isinstance(v, OrderBookSpec) else 'coins'}",
                    "must name a defined asset",
                    c,
                )
        if len(set(coins)) != len(coins):
            bad(f"venues.{v.name}.coins", "coins must be distinct", coins)
        if isinstance(v, OrderBookSpec):
            if v.asset in books:
                bad(f"venues.{v.name}.asset", "at most one orderbook per asset", v.asset)
            books.add(v.asset)

    for o in spec.oracles:
        if o.asset not in asset_names:
            bad(f"oracles.{o.name}.asset", "must name a defined asset", o.asset)
        if o.venue is not None:
            if o.venue not in venue_names:
                bad(f"oracles.{o.name}.venue", "must name a defined venue", o.venue)
            elif o.venue not in venues:
                pass
            elif isinstance(venues[o.venue], OrderBookSpec) or o.asset not in venues[o.venue].coins:  # type: ignore[union-attr]
                bad(f"oracles.{o.name}.venue", f"must be a pool holding {o.asset}", o.venue)
        if o.reference_asset is not None and o.reference_asset not in asset_names:
            bad(f"oracles.{o.name}.reference_asset", "must name a defined asset", o.reference_asset)
        for s in o.sources:
            if s not in oracle_names:
                bad(f"oracles.{o.name}.sources", "must name a defined oracle", s)
            elif s not in oracles:
                pass
            elif s == o.name or oracles[s].type == "median":
                bad(
                    f"oracles.{o.name}.sources",
                    "a median's sources must be non-median oracles other than itself",
                    s,
                )
            elif oracles[s].asset != o.asset:
                bad(f"oracles.{o.name}.sources", f"source must price {o.asset}", s)

    for a in spec.assets or ():
        if a.lp_of is None:
            continue
        pool = venues.get(a.lp_of)
        if pool is None or getattr(pool, "type", None) not in ("constant_product", "stableswap"):
            bad(f"assets.{a.name}.lp_of", "must name a constant_product or stableswap venue", a.lp_of)
            continue
        if a.name in _market_driven(spec):
            bad(
                f"assets.{a.name}.lp_of",
                "an LP token is priced from its pool, not by the market model",
                a.name,
            )
        coins = list(pool.coins)
        amounts = list(pool.reserves if pool.type == "constant_product" else pool.balances)
        if all(c in assets for c in coins):
            implied = sum(assets[c].price * x for c, x in zip(coins, amounts, strict=True)) / a.lp_supply
            if abs(a.price / implied - 1) > 1e-3:
                bad(
                    f"assets.{a.name}.price",
                    f"must be the pool's value over lp_supply, {implied:.10g}",
                    a.price,
                )
    protocol_names = {p.name for p in spec.protocols or ()}
    for a in spec.assets or ():
        if a.token_of is not None and a.token_of not in protocol_names:
            bad(f"assets.{a.name}.token_of", "must name a defined protocol", a.token_of)
    receipt_issuers: dict[str, str] = {}
    for name in spec.agents.evaporation.venues if spec.agents is not None else ():
        if name not in venue_names:
            bad(f"agents.evaporation.venues.{name}", "must name a defined venue", name)
    for p in _lending(spec):
        for asset, r in p.reserves.items():
            where = f"protocols.{p.name}.reserves.{asset}"
            if asset not in asset_names:
                bad(where, "must name a defined asset", asset)
            if r.oracle not in oracle_names:
                bad(f"{where}.oracle", "must name a defined oracle", r.oracle)
            elif r.oracle in oracles and oracles[r.oracle].asset != asset:
                bad(f"{where}.oracle", f"oracle prices {oracles[r.oracle].asset}, not {asset}", r.oracle)
            for v in r.venues:
                if v not in venue_names:
                    bad(f"{where}.venues", "must name a defined venue", v)
                elif v in venues:
                    vs = venues[v]
                    held = [vs.asset] if isinstance(vs, OrderBookSpec) else list(vs.coins)
                    if asset not in held:
                        bad(f"{where}.venues", f"venue does not trade {asset}", v)
            token = getattr(r, "receipt_token", None)
            if token is not None:
                if token not in assets:
                    bad(f"{where}.receipt_token", "must name an asset defined in [[assets]]", token)
                elif assets[token].derived_from is not None or token in _market_driven(spec):
                    bad(f"{where}.receipt_token", "its price comes from this market's books, so it may be neither "
                        "derived_from another asset nor driven by the market model", token)  # fmt: skip
                elif token in receipt_issuers:
                    bad(f"{where}.receipt_token", f"is already issued by {receipt_issuers[token]}", token)
                elif token == asset:
                    bad(f"{where}.receipt_token", "must differ from the reserve's own asset", token)
                receipt_issuers.setdefault(token, f"protocols.{p.name}.reserves.{asset}")
        for cid, cat in p.emode.items():
            for a in cat.collateral:
                if a not in p.reserves:
                    bad(
                        f"protocols.{p.name}.emode.{cid}.collateral",
                        "must name one of the protocol's reserves",
                        a,
                    )
        if p.generate is not None:
            for key in ("collateral", "debt"):
                a = getattr(p.generate, key)
                if a not in p.reserves:
                    bad(f"protocols.{p.name}.generate.{key}", "must name one of the protocol's reserves", a)

    for k, att in enumerate(spec.attacks):
        where = f"attacks[{k}]"
        if att.venue not in venue_names or (
            att.venue in venues and isinstance(venues[att.venue], OrderBookSpec)
        ):
            bad(f"{where}.venue", "must name a defined pool", att.venue)
        elif att.venue in venues and att.coin not in venues[att.venue].coins:  # type: ignore[union-attr]
            bad(f"{where}.coin", f"must be a coin of {att.venue}", att.coin)
    ag = spec.agents
    if ag is not None and ag.gas_asset is not None and ag.gas_asset not in asset_names:
        bad("agents.gas_asset", "must name a defined asset", ag.gas_asset)
    return out


def _check_market(spec: ScenarioSpec, base_dir: Path, source: str) -> list[str]:
    assets = {a.name: a for a in spec.assets}
    out = []
    for name in sorted(spec.market.referenced_assets()):
        if name not in assets:
            out.append(f"{source}: market: must only name defined assets, got {name!r}")
        elif assets[name].derived_from is not None:
            out.append(
                f"{source}: market: {name} is derived from {assets[name].derived_from}; model the parent, got {name!r}"
            )
    return out


def _market_assets(spec: Any) -> list[str]:
    """The assets the market model drives, in the engine's order: the primary assets it names, or every primary
    asset when it names none (the engine's ``Blueprint`` makes the same choice)."""
    referenced = spec.market.referenced_assets()
    primary = [a.name for a in spec.assets if a.derived_from is None]
    return [n for n in primary if n in referenced or not referenced]


def _check_market_data(spec: Any, base_dir: Path, source: str) -> list[str]:
    """Build the price model as the run will: per-asset values, data files, columns and windows are checked now."""
    source_ref = getattr(spec.market, "source", None)
    if source_ref is not None:
        try:
            _data_path(source_ref, base_dir, "market.source", _TABLES)
        except ScenarioError as exc:
            return [f"{source}: {line}" for line in exc.problems]
    try:
        spec.market.build(_market_assets(spec), base_dir)
    except ScenarioError as exc:
        return [f"{source}: {line}" for line in exc.problems]
    return []


def _check_venue_data(spec: Any, base_dir: Path, source: str) -> list[str]:
    """Read every pool snapshot (tick table and state) and build every pool, as the run will."""
    from firesale.liquidity.build import build_pool

    out = []
    for v in spec.venues or ():
        if isinstance(v, OrderBookSpec):
            continue
        where = f"venues.{v.name}"
        try:
            if isinstance(v, ConcentratedSpec) and v.snapshot is not None:
                _data_path(v.snapshot, base_dir, f"{where}.snapshot", _TABLES)
                _data_path(v.snapshot_meta or "", base_dir, f"{where}.snapshot_meta", (".json",))
            build_pool(v, base_dir)
        except ScenarioError as exc:
            out += [f"{source}: {line}" for line in exc.problems]
        except FiresaleError as exc:  # the data loaders and pool constructors raise ParameterError
            out.append(f"{source}: {where}: cannot be built ({exc}), got {v.name!r}")
    return out


def _check_gas_data(spec: Any, base_dir: Path, source: str) -> list[str]:
    """Read the replayed gas series and check its column, as the run will."""
    ag = spec.agents
    if ag is None or ag.gas_series is None:
        if ag is not None and ag.gas_column is not None:
            return [f"{source}: agents.gas_column: needs agents.gas_series, got {ag.gas_column!r}"]
        return []
    from firesale.data import load_prices

    try:
        _data_path(ag.gas_series, base_dir, "agents.gas_series", _TABLES)
        frame = load_prices(ag.gas_series, base_dir=base_dir)
    except ScenarioError as exc:
        return [f"{source}: {line}" for line in exc.problems]
    except FiresaleError as exc:
        return [f"{source}: agents.gas_series: cannot be read ({exc}), got {ag.gas_series!r}"]
    if ag.gas_column is not None and ag.gas_column not in frame.columns:
        return [
            f"{source}: agents.gas_column: must be a column of {ag.gas_series} ({len(frame.columns)} price "
            f"columns), got {ag.gas_column!r}"
        ]
    if ag.block_space is not None:
        return [
            f"{source}: agents.block_space.quantiles.{k}: must be a column of {ag.gas_series}, got {c!r}"
            for k, c in ag.block_space.quantiles.items()
            if c not in frame.columns
        ]
    return []


def _check_sales(spec: Any, positions: dict[str, Positions], source: str) -> list[str]:
    """A reserve that accounts post as collateral must have somewhere to sell it.

    Without venues a seized amount would be handed out at the market price with no impact, which makes a run
    optimistic without a word. A reserve nobody posts as collateral is never seized, and may have no venues.
    """
    out = []
    for p in _lending(spec):
        if p.name not in positions:
            continue
        held = positions[p.name].collateral.sum(axis=0) > 0
        for k, (asset, r) in enumerate(p.reserves.items()):
            if r.venues or not held[k]:
                continue
            lt = max(
                [r.liquidation_threshold]
                + [c.liquidation_threshold for c in p.emode.values() if asset in c.collateral]
            )
            if lt > 0:
                out.append(
                    f"{source}: protocols.{p.name}.reserves.{asset}.venues: a reserve accounts post as collateral "
                    "must name at least one venue to sell it in when seized (only a reserve no account posts as "
                    "collateral may have none), got []"
                )
    return out


def _data_path(ref: str, base_dir: Path, key: str, kinds: tuple[str, ...]) -> Path:
    """Resolve a data reference to a regular file of one of the ``kinds`` (suffixes), or raise ScenarioError.

    The suffix is checked on the reference and on the file it resolves to (through symbolic links), so a data key
    can only ever read a table of the expected kind, never an arbitrary file of the system.
    """
    from firesale.data import resolve

    allowed = ", ".join(kinds)
    if not str(ref).startswith("firesale-data:") and not str(ref).lower().endswith(kinds):
        raise ScenarioError(f"{key}: must name a {allowed} file, got {ref!r}")
    try:
        path = resolve(ref, base_dir)
    except Exception as exc:  # resolve raises ParameterError with the places it looked
        raise ScenarioError(f"{key}: file not found ({exc}), got {ref!r}") from exc
    real = path.resolve()
    if not real.is_file() or not real.name.lower().endswith(kinds):
        raise ScenarioError(f"{key}: must be a regular {allowed} file, got {ref!r}")
    return real


def _positions(proto: LendingSpec, spec: ScenarioSpec, base_dir: Path, source: str) -> Positions:
    reserves = list(proto.reserves)
    where = f"{source}: protocols.{proto.name}"
    if proto.generate is not None:
        return _generate(proto, spec, reserves)
    key = "accounts" if proto.accounts is not None else "positions"
    if proto.accounts is not None:
        ref = "accounts"
        frame = pd.DataFrame([a.model_dump() for a in proto.accounts])
    else:
        ref = proto.positions
        assert ref is not None
        try:
            path = _data_path(ref, base_dir, f"protocols.{proto.name}.{key}", _TABLES)
        except ScenarioError as exc:
            raise ScenarioError([f"{source}: {line}" for line in exc.problems]) from exc
        try:
            frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        except Exception as exc:
            # The reader's message can quote the file; only its kind is shown (a data error must not echo data).
            raise ScenarioError(
                f"{where}.{key}: cannot be read as {'Parquet' if path.suffix == '.parquet' else 'CSV'} "
                f"({type(exc).__name__}), got {ref!r}"
            ) from exc
    # Messages below name the expected columns and rows, never the file's own header or values.
    missing = [c for c in _POSITION_COLUMNS if c not in frame.columns]
    if missing:
        raise ScenarioError(
            f"{where}.{key}: file must have columns {list(_POSITION_COLUMNS)}; missing {missing}, got {ref!r}"
        )
    extra = [k + 1 for k, c in enumerate(frame.columns) if c not in (*_POSITION_COLUMNS, "emode")]
    if extra:
        raise ScenarioError(
            f"{where}.{key}: unknown column(s) at position {extra} of the header (allowed: "
            f"{[*_POSITION_COLUMNS, 'emode']}), got {ref!r}"
        )
    if frame.empty:
        raise ScenarioError(f"{where}.{key}: the position set is empty, got {ref!r}")
    problems = []
    for col in ("collateral_amount", "debt_amount"):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad_rows = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
        if bad_rows.size:
            problems.append(
                f"{where}.{key}: {col} must be a finite number (row {bad_rows[0] + 2}), got a non-numeric or "
                "non-finite value"
            )
            continue
        neg = np.flatnonzero(values.to_numpy() < 0)
        if neg.size:
            problems.append(
                f"{where}.{key}: {col} must be >= 0 (row {neg[0] + 2}), got {float(values.iloc[neg[0]])!r}"
            )
        frame[col] = values
    unknown = np.flatnonzero(~frame["asset"].astype(str).isin(reserves).to_numpy())
    if unknown.size:
        shown = repr(str(frame["asset"].iloc[unknown[0]])) if proto.accounts is not None else "another name"
        problems.append(
            f"{where}.{key}: asset must be one of the protocol's reserves {reserves} (row {unknown[0] + 2}), "
            f"got {shown}"
        )
    if problems:
        raise ScenarioError(problems)
    frame["account"] = frame["account"].astype(str)
    accounts, acc_idx = np.unique(frame["account"].to_numpy(), return_inverse=True)
    res_idx = np.array([reserves.index(a) for a in frame["asset"].astype(str)])
    coll = np.zeros((len(accounts), len(reserves)))
    debt = np.zeros_like(coll)
    np.add.at(coll, (acc_idx, res_idx), frame["collateral_amount"].to_numpy(dtype=float))
    np.add.at(debt, (acc_idx, res_idx), frame["debt_amount"].to_numpy(dtype=float))
    emode = np.zeros(len(accounts), dtype=np.int64)
    if "emode" in frame.columns:
        cats = pd.to_numeric(frame["emode"], errors="coerce").fillna(0).to_numpy(dtype=float)
        known = np.isin(cats, [0, *proto.emode])  # also False for inf and for non-integers
        if not known.all():
            row = int(np.flatnonzero(~known)[0])
            # A parsed number, not the file's text (a non-numeric cell reads as 0 and is never shown).
            value = float(cats[row])
            shown = repr(int(value) if value.is_integer() else value)
            raise ScenarioError(
                f"{where}.{key}: emode must be 0 or a category defined in protocols.{proto.name}.emode "
                f"{sorted(proto.emode)}, got {shown} (row {row + 2})"
            )
        np.maximum.at(emode, acc_idx, cats.astype(np.int64))
    if not (debt.sum() > 0):
        raise ScenarioError(f"{where}.{key}: the position set has no debt, got {ref!r}")
    return Positions(accounts=accounts, collateral=coll, debt=debt, emode=emode)


def _generate(proto: LendingSpec, spec: ScenarioSpec, reserves: list[str]) -> Positions:
    g = proto.generate
    assert g is not None
    prices = {a.name: a.price for a in spec.assets}
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(g.seed)))
    size = np.exp(g.debt_sigma * rng.standard_normal(g.n_accounts))
    debt_usd = g.total_debt_usd * size / size.sum()
    hf = np.exp(rng.uniform(math.log(g.hf_min), math.log(g.hf_max), g.n_accounts))
    lt = proto.reserves[g.collateral].liquidation_threshold
    coll_usd = hf * debt_usd / lt
    coll = np.zeros((g.n_accounts, len(reserves)))
    debt = np.zeros_like(coll)
    coll[:, reserves.index(g.collateral)] += coll_usd / prices[g.collateral]
    debt[:, reserves.index(g.debt)] += debt_usd / prices[g.debt]
    accounts = np.array([f"gen-{i}" for i in range(g.n_accounts)])
    return Positions(
        accounts=accounts, collateral=coll, debt=debt, emode=np.zeros(g.n_accounts, dtype=np.int64)
    )

"""Load a scenario (file or built-in name), validate everything before anything runs, build the runtime world."""

from __future__ import annotations

import hashlib
import math
import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from firesale.exceptions import ScenarioError
from firesale.scenario._errors import format_validation_error
from firesale.scenario.schema import LendingSpec, OrderBookSpec, ScenarioSpec

__all__ = ["Positions", "Scenario", "builtin_scenarios", "builtin_text", "load_scenario", "parse_scenario"]

_BUILTIN = "firesale.scenario.builtin"
_POSITION_COLUMNS = ("account", "asset", "collateral_amount", "debt_amount")


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
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: TOML syntax error: {exc}") from exc
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, data, source, ScenarioSpec)) from exc
    problems = _check_references(spec, source)
    positions: dict[str, Positions] = {}
    defined = {a.name for a in spec.assets}
    for proto in spec.protocols:
        g = proto.generate
        if g is not None and not {g.collateral, g.debt} <= set(proto.reserves) & defined:
            continue  # already reported as an undefined reference
        try:
            positions[proto.name] = _positions(proto, spec, base_dir, source)
        except ScenarioError as exc:
            problems += exc.problems
    problems += _check_market(spec, base_dir, source)
    if problems:
        raise ScenarioError(problems)
    return Scenario(spec=spec, source=source, base_dir=base_dir, text=text, positions=positions)


def _duplicates(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]


def _check_references(spec: ScenarioSpec, source: str) -> list[str]:
    out: list[str] = []

    def bad(path: str, rule: str, value: Any) -> None:
        out.append(f"{source}: {path}: {rule}, got {value!r}")

    assets = {a.name: a for a in spec.assets}
    venues = {v.name: v for v in spec.venues}
    oracles = {o.name: o for o in spec.oracles}
    for kind, names in (
        ("assets", [a.name for a in spec.assets]),
        ("venues", [v.name for v in spec.venues]),
        ("oracles", [o.name for o in spec.oracles]),
        ("protocols", [p.name for p in spec.protocols]),
    ):
        for dup in _duplicates(names):
            bad(f"{kind}.{dup}", "names must be unique", dup)

    for a in spec.assets:
        if a.derived_from is not None and a.derived_from not in assets:
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
            if c not in assets:
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
        if o.asset not in assets:
            bad(f"oracles.{o.name}.asset", "must name a defined asset", o.asset)
        if o.venue is not None:
            if o.venue not in venues:
                bad(f"oracles.{o.name}.venue", "must name a defined venue", o.venue)
            elif isinstance(venues[o.venue], OrderBookSpec) or o.asset not in venues[o.venue].coins:  # type: ignore[union-attr]
                bad(f"oracles.{o.name}.venue", f"must be a pool holding {o.asset}", o.venue)
        if o.reference_asset is not None and o.reference_asset not in assets:
            bad(f"oracles.{o.name}.reference_asset", "must name a defined asset", o.reference_asset)
        for s in o.sources:
            if s not in oracles:
                bad(f"oracles.{o.name}.sources", "must name a defined oracle", s)
            elif s == o.name or oracles[s].type == "median":
                bad(
                    f"oracles.{o.name}.sources",
                    "a median's sources must be non-median oracles other than itself",
                    s,
                )
            elif oracles[s].asset != o.asset:
                bad(f"oracles.{o.name}.sources", f"source must price {o.asset}", s)

    for p in spec.protocols:
        for asset, r in p.reserves.items():
            where = f"protocols.{p.name}.reserves.{asset}"
            if asset not in assets:
                bad(where, "must name a defined asset", asset)
            if r.oracle not in oracles:
                bad(f"{where}.oracle", "must name a defined oracle", r.oracle)
            elif oracles[r.oracle].asset != asset:
                bad(f"{where}.oracle", f"oracle prices {oracles[r.oracle].asset}, not {asset}", r.oracle)
            for v in r.venues:
                if v not in venues:
                    bad(f"{where}.venues", "must name a defined venue", v)
                else:
                    vs = venues[v]
                    held = [vs.asset] if isinstance(vs, OrderBookSpec) else list(vs.coins)
                    if asset not in held:
                        bad(f"{where}.venues", f"venue does not trade {asset}", v)
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
        if att.venue not in venues or isinstance(venues[att.venue], OrderBookSpec):
            bad(f"{where}.venue", "must name a defined pool", att.venue)
        elif att.coin not in venues[att.venue].coins:  # type: ignore[union-attr]
            bad(f"{where}.coin", f"must be a coin of {att.venue}", att.coin)
    ag = spec.agents
    if ag.gas_asset is not None and ag.gas_asset not in assets:
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
        from firesale.data import resolve

        ref = proto.positions
        assert ref is not None
        try:
            path = resolve(ref, base_dir)
        except Exception as exc:  # resolve raises ParameterError with the places it looked
            raise ScenarioError(f"{where}.{key}: file not found ({exc}), got {ref!r}") from exc
        try:
            frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        except Exception as exc:
            raise ScenarioError(f"{where}.{key}: cannot be read as CSV/Parquet ({exc}), got {ref!r}") from exc
    missing = [c for c in _POSITION_COLUMNS if c not in frame.columns]
    if missing:
        raise ScenarioError(
            f"{where}.{key}: file must have columns {list(_POSITION_COLUMNS)}; missing {missing}, "
            f"got {list(frame.columns)}"
        )
    extra = [c for c in frame.columns if c not in (*_POSITION_COLUMNS, "emode")]
    if extra:
        raise ScenarioError(
            f"{where}.{key}: unknown column(s) {extra} (allowed: {[*_POSITION_COLUMNS, 'emode']})"
        )
    if frame.empty:
        raise ScenarioError(f"{where}.{key}: the position set is empty, got {ref!r}")
    problems = []
    for col in ("collateral_amount", "debt_amount"):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad_rows = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
        if bad_rows.size:
            problems.append(
                f"{where}.{key}: {col} must be a finite number (row {bad_rows[0] + 2}), got {frame[col].iloc[bad_rows[0]]!r}"
            )
            continue
        neg = np.flatnonzero(values.to_numpy() < 0)
        if neg.size:
            problems.append(
                f"{where}.{key}: {col} must be >= 0 (row {neg[0] + 2}), got {float(values.iloc[neg[0]])!r}"
            )
        frame[col] = values
    unknown = sorted(set(frame["asset"].astype(str)) - set(reserves))
    if unknown:
        problems.append(
            f"{where}.{key}: asset must be one of the protocol's reserves {reserves}, got {unknown[0]!r}"
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
        cats = pd.to_numeric(frame["emode"], errors="coerce").fillna(0).to_numpy()
        unknown_cats = sorted(
            {int(c) for c in cats if c != 0 and int(c) not in proto.emode} | {c for c in cats if c != int(c)}
        )
        if unknown_cats:
            raise ScenarioError(
                f"{where}.{key}: emode must be 0 or a category defined in protocols.{proto.name}.emode "
                f"{sorted(proto.emode)}, got {unknown_cats[0]!r}"
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

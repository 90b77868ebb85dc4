"""The [market] table: validation, defaults for missing assets, build, JSON Schema and the TOML round trip."""

from __future__ import annotations

import gzip
import math
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from firesale.exceptions import ParameterError, ScenarioError
from firesale.market import GBM, Bootstrap, GarchT, MertonJump, RegimeSwitching, Replay, Shock
from firesale.market.spec import (
    BootstrapSpec,
    GarchSpec,
    GBMSpec,
    MertonSpec,
    RegimeSpec,
    ReplaySpec,
    ShockSpec,
    market_json_schema,
    to_toml,
    validate_market,
)

ASSETS = ("WETH", "WBTC")


def _market(text: str):
    return validate_market(tomllib.loads(text)["market"])


def test_gbm_from_toml():
    spec = _market(
        """
        [market]
        model = "gbm"
        vol = { WETH = 0.8, WBTC = 0.65 }
        correlation = { "WETH/WBTC" = 0.85 }
        """
    )
    assert isinstance(spec, GBMSpec)
    assert spec.referenced_assets() == {"WETH", "WBTC"}
    model = spec.build(ASSETS)
    assert model == GBM(assets=ASSETS, vol=(0.8, 0.65), correlation=[[1, 0.85], [0.85, 1]])


def test_build_follows_the_scenarios_asset_order_and_defaults():
    spec = _market('[market]\nmodel = "gbm"\nvol = 0.5\ndrift = { WBTC = 0.1 }\ncorrelation_default = 0.3\n')
    model = spec.build(("WBTC", "WETH", "LINK"))
    assert model.vol == (0.5, 0.5, 0.5)
    assert model.drift == (0.1, 0.0, 0.0)  # drift: missing assets 0
    np.testing.assert_array_equal(model.correlation, [[1, 0.3, 0.3], [0.3, 1, 0.3], [0.3, 0.3, 1]])


def test_missing_required_vol_is_a_scenario_error():
    spec = _market('[market]\nmodel = "gbm"\nvol = { WETH = 0.8 }\n')
    with pytest.raises(
        ScenarioError,
        match=r"market\.vol: needs a value for every asset of the scenario \(or one number for all\), got no value "
        r"for \['WBTC'\]",
    ):
        spec.build(ASSETS)


def test_assets_the_scenario_lacks_are_reported():
    spec = _market('[market]\nmodel = "gbm"\nvol = 0.5\ncorrelation = { "WETH/DOGE" = 0.2 }\n')
    assert spec.referenced_assets() == {"WETH", "DOGE"}
    with pytest.raises(
        ScenarioError, match=r"market: names assets the scenario does not define, got \['DOGE'\]"
    ):
        spec.build(ASSETS)


def test_model_errors_become_scenario_errors():
    # Each listed pair is fine, but with the default 0.9 for the third pair the full matrix is not PSD.
    spec = _market(
        '[market]\nmodel = "gbm"\nvol = 0.5\ncorrelation = { "A/B" = -0.9 }\ncorrelation_default = 0.9\n'
    )
    with pytest.raises(
        ScenarioError, match=r"market: The 'correlation' parameter of GBM must be positive semi-definite"
    ):
        spec.build(("A", "B", "C"))


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("vol = -0.1", ("vol",), "greater than 0"),
        ("vol = nan", ("vol",), "finite number"),
        ("vol = inf", ("vol",), "finite number"),
        ("vol = { WETH = -0.1 }", ("vol", "WETH"), "greater than 0"),
        ("vol = 0.5\nvolatility = 0.5", ("volatility",), "Extra inputs are not permitted"),
        (
            'vol = 0.5\ncorrelation = { "WETH-WBTC" = 0.5 }',
            ("correlation",),
            "two different assets, got 'WETH-WBTC'",
        ),
        ('vol = 0.5\ncorrelation = { "WETH/WETH" = 0.5 }', ("correlation",), "two different assets"),
        (
            'vol = 0.5\ncorrelation = { "A/B" = 0.5, "B/A" = 0.5 }',
            ("correlation",),
            "got both 'A/B' and 'B/A'",
        ),
        ('vol = 0.5\ncorrelation = { "A/B" = 1.5 }', ("correlation", "A/B"), "less than or equal to 1"),
    ],
)
def test_gbm_validation_errors(text, where, message):
    with pytest.raises(ValidationError) as info:
        _market(f'[market]\nmodel = "gbm"\n{text}\n')
    # loc is (union tag, key, [type branch], [table key]); the key path and the rule must be reported.
    errors = info.value.errors()
    assert any(
        e["loc"][1] == where[0] and set(where[1:]) <= set(e["loc"]) and message in e["msg"] for e in errors
    ), errors


def test_listed_pairs_must_be_positive_semi_definite_at_load_time():
    text = '[market]\nmodel = "gbm"\nvol = 0.5\ncorrelation = { "A/B" = 0.9, "A/C" = 0.9, "B/C" = -0.9 }\n'
    with pytest.raises(
        ValidationError, match=r"correlation: the correlation matrix of \['A', 'B', 'C'\] must be positive"
    ):
        _market(text)


def test_unknown_model_is_rejected():
    with pytest.raises(ValidationError, match=r"does not match any of the expected tags"):
        validate_market({"model": "heston", "vol": 0.5})


def test_models_are_frozen():
    spec = GBMSpec(vol=0.5)
    with pytest.raises(ValidationError, match="frozen"):
        spec.vol = 0.6  # type: ignore[misc]


def test_merton_spec():
    spec = _market(
        """
        [market]
        model = "merton"
        vol = 0.6
        jump_intensity = 12.0
        jump_mean = { WETH = -0.1 }
        jump_std = { WETH = 0.05, WBTC = 0.04 }
        """
    )
    model = spec.build(ASSETS)
    assert model == MertonJump(
        assets=ASSETS, vol=0.6, jump_intensity=12.0, jump_mean=(-0.1, 0.0), jump_std=(0.05, 0.04)
    )
    with pytest.raises(
        ValidationError, match=r"jump_intensity: must be one number when common_jumps is true"
    ):
        MertonSpec(vol=0.5, jump_intensity={"WETH": 1.0}, jump_mean=0.0, jump_std=0.0)
    indep = MertonSpec(
        vol=0.5, jump_intensity={"WETH": 1.0, "WBTC": 2.0}, jump_mean=-0.1, jump_std=0.1, common_jumps=False
    )
    assert indep.build(ASSETS).jump_intensity == (1.0, 2.0)


def test_garch_spec():
    spec = _market(
        """
        [market]
        model = "garch"
        native_dt = 3600
        vol = { WETH = 0.8, WBTC = 0.6 }
        alpha = 0.06
        beta = { WETH = 0.93, WBTC = 0.92 }
        nu = 4
        initial_vol = { WETH = 1.5 }
        """
    )
    model = spec.build(ASSETS)
    assert model == GarchT(
        assets=ASSETS,
        vol=(0.8, 0.6),
        alpha=0.06,
        beta=(0.93, 0.92),
        nu=4.0,
        native_dt=3600.0,
        initial_vol=(1.5, 0.6),
    )
    with pytest.raises(
        ValidationError, match=r"alpha \+ beta: must be < 1 \(covariance stationarity\) for WBTC, got 1"
    ):
        GarchSpec(vol=0.5, alpha=0.1, beta={"WETH": 0.8, "WBTC": 0.9}, nu=5.0)
    with pytest.raises(ValidationError, match=r"greater than 2"):
        GarchSpec(vol=0.5, alpha=0.1, beta=0.8, nu=2.0)


def test_regime_spec_crisis_correlations():
    spec = _market(
        """
        [market]
        model = "regime"
        vol_calm = 0.5
        vol_crisis = { WETH = 1.5, WBTC = 1.2, LINK = 2.0 }
        p_calm_to_crisis = 0.02
        p_crisis_to_calm = 0.1
        correlation_calm = { "WETH/WBTC" = 0.7 }
        correlation_calm_default = 0.4
        correlation_crisis_default = 0.9
        correlation_crisis = { "WBTC/LINK" = 0.8 }
        """
    )
    model = spec.build(("WETH", "WBTC", "LINK"))
    assert isinstance(model, RegimeSwitching)
    np.testing.assert_array_equal(model.correlation_calm, [[1, 0.7, 0.4], [0.7, 1, 0.4], [0.4, 0.4, 1]])
    np.testing.assert_array_equal(model.correlation_crisis, [[1, 0.9, 0.9], [0.9, 1, 0.8], [0.9, 0.8, 1]])
    with pytest.raises(ValidationError, match=r"p_calm_to_crisis \+ p_crisis_to_calm: must be < 1, got 1\.1"):
        RegimeSpec(vol_calm=0.5, vol_crisis=1.0, p_calm_to_crisis=0.5, p_crisis_to_calm=0.6)
    with pytest.raises(ValidationError, match=r"less than 1"):
        RegimeSpec(vol_calm=0.5, vol_crisis=1.0, p_calm_to_crisis=1.0, p_crisis_to_calm=0.0)


def test_regime_crisis_defaults_to_calm():
    spec = RegimeSpec(
        vol_calm=0.5,
        vol_crisis=1.0,
        p_calm_to_crisis=0.1,
        p_crisis_to_calm=0.2,
        correlation_calm={"A/B": 0.3},
    )
    model = spec.build(("A", "B"))
    assert model.correlation_crisis == model.correlation_calm


def test_shock_spec_flat_for_missing_assets():
    spec = _market(
        """
        [market]
        model = "shock"
        shape = "v"
        depth = { WETH = 0.5 }
        start = 3600
        duration = 1800
        recovery = { WETH = 86400 }
        """
    )
    model = spec.build(ASSETS)
    assert model == Shock(
        assets=ASSETS, depth=(0.5, 0.0), shape="v", start=3600.0, duration=1800.0, recovery=(86400.0, 0.0)
    )
    x = model.simulate(1, 2, 3600.0, np.random.default_rng(0))
    np.testing.assert_allclose(x[0, :, 1], 1.0)
    with pytest.raises(ValidationError, match=r"less than 1"):
        ShockSpec(depth=1.0)


def _write_csv(path: Path, rows: list[str]) -> None:
    path.write_text("\n".join(rows) + "\n")


def test_replay_spec_reads_a_file_relative_to_the_scenario(tmp_path):
    # Newest-first rows in the Gemini layout (m/d/Y H:M), as in the shared data pack.
    _write_csv(
        tmp_path / "eth.csv",
        [
            "date,close",
            "5/9/2022 2:00,2420",
            "5/9/2022 1:00,2200",
            "5/9/2022 0:00,2000",
            "5/8/2022 23:00,1900",
        ],
    )
    spec = _market(
        """
        [market]
        model = "replay"
        source = "eth.csv"
        columns = { WETH = "close" }
        time_column = "date"
        time_format = "%m/%d/%Y %H:%M"
        start = 2022-05-09T00:00:00Z
        interpolation = "previous"
        """
    )
    assert spec.start == datetime(2022, 5, 9, tzinfo=UTC)
    model = spec.build(("WETH",), tmp_path)
    assert isinstance(model, Replay)
    x = model.simulate(1, 2, 3600.0, np.random.default_rng(0))
    np.testing.assert_allclose(x[0, :, 0], [1.0, 1.1, 1.21], rtol=1e-12)


def test_replay_start_outside_the_data(tmp_path):
    _write_csv(tmp_path / "p.csv", ["timestamp,WETH", "2022-05-09T00:00:00Z,1", "2022-05-09T01:00:00Z,2"])
    spec = ReplaySpec(source="p.csv", start=datetime(2022, 6, 1))
    with pytest.raises(ScenarioError, match=r"market\.start: must lie within the data"):
        spec.build(("WETH",), tmp_path)


def test_missing_file_and_column(tmp_path):
    with pytest.raises(ScenarioError, match=r"market\.source: .*'nope\.csv'"):
        ReplaySpec(source="nope.csv").build(("WETH",), tmp_path)
    _write_csv(tmp_path / "p.csv", ["timestamp,WETH", "2022-05-09T00:00:00Z,1", "2022-05-09T01:00:00Z,2"])
    with pytest.raises(ScenarioError, match=r"market: columns \['WBTC'\] are not in p\.csv"):
        ReplaySpec(source="p.csv").build(("WETH", "WBTC"), tmp_path)


def test_firesale_data_reference_errors(tmp_path):
    try:
        import firesale.data  # noqa: F401
    except ImportError:
        with pytest.raises(
            ScenarioError, match=r"'firesale-data:' references need the firesale\.data package"
        ):
            ReplaySpec(source="firesale-data:prices/eth").build(("WETH",), tmp_path)
    else:
        with pytest.raises(ScenarioError, match=r"market\.source: .*'firesale-data:no-such-set'"):
            ReplaySpec(source="firesale-data:no-such-set").build(("WETH",), tmp_path)


def test_shipped_dataset_through_firesale_data(tmp_path):
    pytest.importorskip("firesale.data", reason="firesale.data resolves 'firesale-data:' references")
    spec = _market(
        """
        [market]
        model = "replay"
        source = "firesale-data:eth_btc_1h_2019-2024"
        columns = { WETH = "ETH", WBTC = "BTC" }
        start = 2019-01-01T00:00:00Z
        interpolation = "previous"
        """
    )
    x = spec.build(ASSETS, tmp_path).simulate(1, 1, 3600.0, np.random.default_rng(0))
    # First rows of the file: ETH 131.1 -> 130.98, BTC 3693.83 -> 3681.18.
    np.testing.assert_allclose(x[0, 1], [130.98 / 131.1, 3681.18 / 3693.83], rtol=1e-12)


def test_bootstrap_spec_with_epoch_timestamps_and_gzip(tmp_path):
    rows = ["t,A,B"] + [f"{1_700_000_000 + 3600 * i},{100 + i},{50 + (i % 3)}" for i in range(30)]
    with gzip.open(tmp_path / "p.csv.gz", "wt") as fh:
        fh.write("\n".join(rows) + "\n")
    spec = BootstrapSpec(source="p.csv.gz", time_column="t", time_unit="s", block_length=4)
    model = spec.build(("A", "B"), tmp_path)
    assert isinstance(model, Bootstrap)
    assert model.returns.shape == (29, 2)
    assert model.data_dt == 3600.0
    np.testing.assert_allclose(model.returns[0], [np.log(101 / 100), np.log(51 / 50)], rtol=1e-12)
    auto = BootstrapSpec(source="p.csv.gz", time_column="t", time_unit="s").build(("A",), tmp_path)
    # Politis-White (arch's implementation) on the returns and squared returns, largest, rounded up.
    from arch.bootstrap import optimal_block_length as politis_white

    r = np.diff(np.log(100.0 + np.arange(30)))
    expected = max(1.0, *(float(politis_white(v)["circular"].iloc[0]) for v in (r, r * r)))
    assert auto.block_length == min(math.ceil(expected), 29)
    with pytest.raises(ValidationError, match=r"time_format, time_unit: give at most one, got both"):
        BootstrapSpec(source="x", time_format="%Y", time_unit="s")


def test_json_schema_carries_the_docstrings():
    schema = market_json_schema()
    assert schema["discriminator"]["propertyName"] == "model"
    gbm = schema["$defs"]["GBMSpec"]
    assert gbm["additionalProperties"] is False
    assert "365-day year" in gbm["description"]
    assert "Pairwise correlations" in gbm["properties"]["correlation"]["description"]


ROUND_TRIP = [
    GBMSpec(vol={"WETH": 0.8, "WBTC": 0.65}, drift=0.05, correlation={"WETH/WBTC": 0.85}),
    MertonSpec(vol=0.6, jump_intensity=12.0, jump_mean={"WETH": -0.1}, jump_std=0.05),
    GarchSpec(
        vol=0.8, alpha=0.06, beta=0.93, nu={"WETH": 3.5, "WBTC": 4.0}, native_dt=3600.0, initial_vol=1.2
    ),
    RegimeSpec(
        vol_calm=0.5,
        vol_crisis=1.5,
        p_calm_to_crisis=0.02,
        p_crisis_to_calm=0.1,
        correlation_calm={"WETH/WBTC": 0.6},
        correlation_crisis_default=0.95,
        initial_regime="calm",
    ),
    ShockSpec(depth={"WETH": 0.4}, shape="linear", duration=600.0),
    ReplaySpec(
        source="firesale-data:prices/hourly/x.csv.gz",
        columns={"WETH": "close"},
        time_column="date",
        time_format="%m/%d/%Y %H:%M",
        start=datetime(2022, 5, 9, 12, tzinfo=UTC),
    ),
    BootstrapSpec(
        source='we"ird\\path.csv', block_length=24, data_dt=3600.0, end=datetime(2023, 1, 1, tzinfo=UTC)
    ),
]


@pytest.mark.parametrize("spec", ROUND_TRIP, ids=lambda s: s.model)
def test_to_toml_round_trip(spec):
    text = to_toml(spec, comment="fitted on test data\nsecond line")
    assert text.startswith("# fitted on test data\n# second line\n[market]\n")
    assert validate_market(tomllib.loads(text)["market"]) == spec


def test_to_toml_rejects_other_objects():
    with pytest.raises(ParameterError, match=r"The 'spec' parameter of to_toml must be a market spec"):
        to_toml({"model": "gbm"})  # type: ignore[arg-type]


def test_unreadable_source(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ScenarioError, match=r"market\.source: cannot be read as a price table"):
        ReplaySpec(source="bad.parquet").build(("WETH",), tmp_path)

"""load_prices() on the user's own files: wide and long shapes, CSV and Parquet, and every error."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from firesale.data import load_prices
from firesale.exceptions import ParameterError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def utc(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(s, tz="UTC") for s in stamps], name="timestamp")


def test_wide_csv_sorted_and_typed(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH,BTC\n2020-01-02T00:00:00Z,2,20\n2020-01-01T00:00:00Z,1,10\n")
    frame = load_prices("p.csv", base_dir=tmp_path)
    assert frame.index.equals(utc("2020-01-01", "2020-01-02"))
    assert list(frame.columns) == ["ETH", "BTC"]
    assert frame.to_numpy().tolist() == [[1.0, 10.0], [2.0, 20.0]]
    assert (frame.dtypes == "float64").all()


def test_gzip_csv_crlf_and_missing_tokens(tmp_path: Path) -> None:
    text = "timestamp, ETH ,BTC\r\n2020-01-01,null,10\r\n2020-01-02,, NaN\r\n2020-01-03,3,None\r\n"
    (tmp_path / "p.csv.gz").write_bytes(gzip.compress(text.encode()))
    frame = load_prices(tmp_path / "p.csv.gz")
    assert list(frame.columns) == ["ETH", "BTC"]
    assert np.isnan(frame["ETH"].iloc[0]) and np.isnan(frame["ETH"].iloc[1]) and frame["ETH"].iloc[2] == 3.0
    assert frame["BTC"].iloc[0] == 10.0 and frame["BTC"].isna().sum() == 2


def test_naive_times_are_utc_and_offsets_are_converted(tmp_path: Path) -> None:
    # 03:00 at +03:00 (Europe/Athens in summer) is 00:00 UTC.
    write(tmp_path, "p.csv", "timestamp,ETH\n2020-06-01 00:00:00,1\n2020-06-01T04:00:00+03:00,2\n")
    frame = load_prices("p.csv", base_dir=tmp_path)
    assert frame.index.equals(utc("2020-06-01 00:00", "2020-06-01 01:00"))


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("1584055200", "2020-03-12 23:20"),  # seconds
        ("1584055200000", "2020-03-12 23:20"),  # milliseconds (Binance klines before 2025)
        ("1584055200000000", "2020-03-12 23:20"),  # microseconds (Binance spot klines from 2025)
    ],
)
def test_epochs_in_s_ms_us(tmp_path: Path, stamp: str, expected: str) -> None:
    write(tmp_path, "p.csv", f"timestamp,ETH\n{stamp},101.01\n")
    assert load_prices("p.csv", base_dir=tmp_path).index[0] == pd.Timestamp(expected, tz="UTC")


def test_long_shape_is_pivoted(tmp_path: Path) -> None:
    write(
        tmp_path,
        "long.csv",
        "timestamp,symbol,price\n1678233352,DAI,1.001\n1678233352,USDC,0.999\n1678236952,DAI,1.0\n",
    )
    frame = load_prices("long.csv", base_dir=tmp_path)
    assert list(frame.columns) == ["DAI", "USDC"]
    assert frame.loc[pd.Timestamp(1678233352, unit="s", tz="UTC"), "USDC"] == 0.999
    assert np.isnan(frame.loc[pd.Timestamp(1678236952, unit="s", tz="UTC"), "USDC"])


def test_long_shape_conflict(tmp_path: Path) -> None:
    write(tmp_path, "long.csv", "timestamp,symbol,price\n2020-01-01,DAI,1\n2020-01-01,DAI,2\n")
    with pytest.raises(
        ParameterError, match=r"symbol 'DAI' has two different prices at 2020-01-01T00:00:00\+00:00"
    ):
        load_prices("long.csv", base_dir=tmp_path)


def test_long_shape_empty_symbol(tmp_path: Path) -> None:
    write(tmp_path, "long.csv", "timestamp,symbol,price\n2020-01-01,DAI,1\n2020-01-02, ,2\n")
    with pytest.raises(ParameterError, match=r"column 'symbol' is empty at line 3"):
        load_prices("long.csv", base_dir=tmp_path)


def test_parquet_wide_with_datetime_column_and_index(tmp_path: Path) -> None:
    stamps = pd.to_datetime(["2020-01-02", "2020-01-01"])
    pd.DataFrame({"timestamp": stamps, "ETH": [2, 1]}).to_parquet(tmp_path / "a.parquet")
    frame = load_prices("a.parquet", base_dir=tmp_path)
    assert frame.index.equals(utc("2020-01-01", "2020-01-02"))
    assert frame["ETH"].tolist() == [1.0, 2.0]
    pd.DataFrame({"ETH": [5.0]}, index=pd.DatetimeIndex(["2021-01-01"], tz="Europe/Athens")).to_parquet(
        tmp_path / "b.parquet"
    )
    frame = load_prices("b.parquet", base_dir=tmp_path)
    assert frame.index[0] == pd.Timestamp("2020-12-31 22:00", tz="UTC")


def test_identical_duplicate_rows_are_dropped(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH\n2020-01-01,1\n2020-01-01,1\n2020-01-02,2\n")
    frame = load_prices("p.csv", base_dir=tmp_path)
    assert frame.index.equals(utc("2020-01-01", "2020-01-02"))


def test_conflicting_duplicate_rows(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH,BTC\n2020-01-01,1,5\n2020-01-01,1,6\n")
    with pytest.raises(
        ParameterError,
        match=r"p\.csv: timestamp 2020-01-01T00:00:00\+00:00 appears more than once with different values in "
        r"column 'BTC'",
    ):
        load_prices("p.csv", base_dir=tmp_path)


def test_columns_selection_and_order(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH,BTC\n2020-01-01,1,10\n")
    assert list(load_prices("p.csv", base_dir=tmp_path, columns=["BTC", "ETH"]).columns) == ["BTC", "ETH"]
    assert list(load_prices("p.csv", base_dir=tmp_path, columns="BTC").columns) == ["BTC"]


def test_missing_column(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH\n2020-01-01,1\n")
    with pytest.raises(ParameterError, match=r"p\.csv has no column 'SOL'; its columns are \['ETH'\]"):
        load_prices("p.csv", base_dir=tmp_path, columns=["SOL"])


@pytest.mark.parametrize("columns", [[], [1], ["ETH", "ETH"], 3])
def test_bad_columns_parameter(tmp_path: Path, columns: object) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH\n2020-01-01,1\n")
    with pytest.raises(ParameterError, match=r"The 'columns' parameter of load_prices"):
        load_prices("p.csv", base_dir=tmp_path, columns=columns)  # type: ignore[arg-type]


def test_no_timestamp_column(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "date,ETH\n2020-01-01,1\n")
    with pytest.raises(
        ParameterError, match=r"p\.csv has no 'timestamp' column \(columns: \['date', 'ETH'\]\)"
    ):
        load_prices("p.csv", base_dir=tmp_path)


def test_no_value_columns(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp\n2020-01-01\n")
    with pytest.raises(ParameterError, match=r"has a 'timestamp' column but no value columns"):
        load_prices("p.csv", base_dir=tmp_path)


def test_header_only(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH\n")
    with pytest.raises(ParameterError, match=r"p\.csv has a header but no rows"):
        load_prices("p.csv", base_dir=tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "")
    with pytest.raises(ParameterError, match=r"load_prices: .*p\.csv is empty"):
        load_prices("p.csv", base_dir=tmp_path)


def test_bad_timestamp_names_line(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH\n2020-01-01,1\nyesterday,2\n")
    with pytest.raises(
        ParameterError,
        match=r"p\.csv: column 'timestamp' must hold ISO 8601 times .* got 'yesterday' at line 3",
    ):
        load_prices("p.csv", base_dir=tmp_path)


def test_empty_timestamp(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH\n2020-01-01,1\nnull,2\n")
    with pytest.raises(ParameterError, match=r"column 'timestamp' is empty at line 3"):
        load_prices("p.csv", base_dir=tmp_path)


def test_epoch_too_large(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH\n158405520000000000000,1\n")
    with pytest.raises(ParameterError, match=r"too large for a Unix epoch in s, ms or us"):
        load_prices("p.csv", base_dir=tmp_path)


def test_non_numeric_value_names_column_and_line(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH,BTC\n2020-01-01,1,2\n2020-01-02,1,abc\n")
    with pytest.raises(ParameterError, match=r"p\.csv: column 'BTC' must hold numbers; got 'abc' at line 3"):
        load_prices("p.csv", base_dir=tmp_path)


def test_infinite_value(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH\n2020-01-01,inf\n")
    with pytest.raises(ParameterError, match=r"column 'ETH' must hold finite numbers; got inf at line 2"):
        load_prices("p.csv", base_dir=tmp_path)


def test_duplicated_header(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH,ETH\n2020-01-01,1,2\n")
    with pytest.raises(ParameterError, match=r"has duplicated column names \['ETH'\] in its header"):
        load_prices("p.csv", base_dir=tmp_path)


def test_ragged_csv(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", "timestamp,ETH\n2020-01-01,1,2,3\n")
    with pytest.raises(ParameterError, match=r"load_prices: cannot read .*p\.csv as CSV"):
        load_prices("p.csv", base_dir=tmp_path)


def test_unsupported_extension(tmp_path: Path) -> None:
    write(tmp_path, "p.xlsx", "x")
    with pytest.raises(ParameterError, match=r"p\.xlsx has an unsupported extension; use CSV .* or Parquet"):
        load_prices("p.xlsx", base_dir=tmp_path)


def test_corrupt_parquet(tmp_path: Path) -> None:
    write(tmp_path, "p.parquet", "not parquet")
    with pytest.raises(ParameterError, match=r"load_prices: cannot read .*p\.parquet as Parquet"):
        load_prices("p.parquet", base_dir=tmp_path)


def test_parquet_boolean_column(tmp_path: Path) -> None:
    pd.DataFrame({"timestamp": pd.to_datetime(["2020-01-01"]), "flag": [True]}).to_parquet(
        tmp_path / "p.parquet"
    )
    with pytest.raises(ParameterError, match=r"column 'flag' holds booleans, not numbers"):
        load_prices("p.parquet", base_dir=tmp_path)


def test_missing_file_error_comes_from_resolve(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"The data file 'missing\.csv' does not exist"):
        load_prices("missing.csv", base_dir=tmp_path)


wide_rows = st.lists(
    st.tuples(
        st.integers(min_value=1_500_000_000, max_value=1_800_000_000),
        st.floats(min_value=1e-6, max_value=1e9, allow_nan=False),
        st.floats(min_value=1e-6, max_value=1e9, allow_nan=False),
    ),
    min_size=1,
    max_size=30,
    unique_by=lambda r: r[0],
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=wide_rows, data=st.data())
def test_round_trip_any_order_with_repeats(tmp_path: Path, rows: list, data: st.DataObject) -> None:
    # Shuffled rows with exact repeats load back sorted, unique and bit-identical (repr round-trips floats).
    repeated = rows + data.draw(st.lists(st.sampled_from(rows), max_size=5))
    shuffled = data.draw(st.permutations(repeated))
    lines = ["timestamp,A,B"] + [f"{t},{a!r},{b!r}" for t, a, b in shuffled]
    path = tmp_path / "prop.csv"
    path.write_text("\n".join(lines) + "\n")
    frame = load_prices(path)
    expected = sorted(rows)
    assert frame.index.equals(
        pd.DatetimeIndex(pd.to_datetime([r[0] for r in expected], unit="s", utc=True), name="timestamp")
    )
    assert frame["A"].tolist() == [r[1] for r in expected]
    assert frame["B"].tolist() == [r[2] for r in expected]

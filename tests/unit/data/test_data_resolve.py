"""resolve(): shipped references, user paths relative to the scenario folder, and every error."""

from __future__ import annotations

from pathlib import Path

import pytest

from firesale.data import datasets, resolve
from firesale.exceptions import ParameterError


@pytest.mark.parametrize(
    "ref",
    [
        "firesale-data:eth_10min_2020-03-12",
        "firesale-data:eth_10min_2020-03-12.csv.gz",
        "firesale-data:eth_10min_2020-03-12.csv",
        "  firesale-data:eth_10min_2020-03-12  ",
    ],
)
def test_shipped_reference_with_or_without_extension(ref: str) -> None:
    path = resolve(ref)
    assert path.name == "eth_10min_2020-03-12.csv.gz"
    assert path.is_file()
    assert path.is_absolute()


def test_every_listed_name_resolves_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in datasets()["name"]:
        assert resolve(f"firesale-data:{name}").is_file()


def test_shipped_reference_ignores_base_dir(tmp_path: Path) -> None:
    assert resolve("firesale-data:ust_15min_2022-05", base_dir=tmp_path) == resolve(
        "firesale-data:ust_15min_2022-05"
    )


def test_unknown_name_lists_available_names() -> None:
    with pytest.raises(
        ParameterError, match=r"'firesale-data:eth_1min' names no dataset shipped with firesale"
    ) as info:
        resolve("firesale-data:eth_1min")
    message = str(info.value)
    assert "looked in the package folder firesale/data/files" in message
    assert "Available names: aave_v3_core_positions_2025-12, aave_v3_top1000_positions_2025-12," in message
    assert "eth_10min_2020-03-12" in message


def test_relative_path_is_taken_from_base_dir(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    target = tmp_path / "sub" / "prices.csv"
    target.write_text("timestamp,ETH\n2020-01-01,1\n")
    assert resolve("sub/prices.csv", base_dir=tmp_path) == target.resolve()
    assert resolve(Path("sub/prices.csv"), base_dir=str(tmp_path)) == target.resolve()


def test_relative_path_defaults_to_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "p.csv").write_text("timestamp,ETH\n2020-01-01,1\n")
    monkeypatch.chdir(tmp_path)
    assert resolve("p.csv") == (tmp_path / "p.csv").resolve()


def test_absolute_path_ignores_base_dir(tmp_path: Path) -> None:
    target = tmp_path / "p.csv"
    target.write_text("timestamp,ETH\n2020-01-01,1\n")
    assert resolve(str(target), base_dir="/nonexistent") == target.resolve()


def test_missing_relative_path_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"The data file 'nope\.csv' does not exist") as info:
        resolve("nope.csv", base_dir=tmp_path)
    message = str(info.value)
    assert str((tmp_path / "nope.csv").resolve()) in message
    assert f"relative to {tmp_path.resolve()}" in message
    assert "firesale-data:NAME" in message
    assert "Available names:" in message


def test_missing_absolute_path(tmp_path: Path) -> None:
    missing = tmp_path / "gone.parquet"
    with pytest.raises(
        ParameterError, match=r"does not exist \(looked for .*gone\.parquet, an absolute path\)"
    ):
        resolve(missing)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="does not exist"):
        resolve(tmp_path)


@pytest.mark.parametrize("ref", ["", "   ", None, 3, ["a"]])
def test_bad_ref(ref: object) -> None:
    with pytest.raises(
        ParameterError, match=r"The 'ref' parameter of resolve must be a non-empty string or path"
    ):
        resolve(ref)  # type: ignore[arg-type]


def test_bad_base_dir() -> None:
    with pytest.raises(
        ParameterError, match=r"The 'base_dir' parameter of resolve must be a path or None\. Got 5"
    ):
        resolve("x.csv", base_dir=5)  # type: ignore[arg-type]

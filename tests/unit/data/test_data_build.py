"""_build.py reproduces the shipped files byte for byte from the data pack, and copies stay byte-identical.

The pack lives in ``<repo>/../shared/data``; these tests are skipped where it is not available (e.g. an sdist).
Expected hashes are the pack's ``sources.json`` ``original_sha256`` of each copied source file.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
from pathlib import Path

import pytest

from firesale.data import _build

PACK = Path(__file__).resolve().parents[3].parent / "shared" / "data"
needs_pack = pytest.mark.skipif(not PACK.is_dir(), reason="the research data pack is not available")

FILES = importlib.resources.files("firesale.data").joinpath("files")

# shared/data/sources.json: original_sha256 of the copied sources.
SOURCE_SHA256 = {
    "aave_v3_top1000_users_2025-12.csv.gz": "6205f7cceb03cdf9b9c0548bd13855d9135595982bc0836516a4a6ee0d7409e6",
    "aave_v3_top1000_positions_2025-12.csv.gz": "9c212486a92a78529a2c6cd271b30293175976e4eaf09b5d94d66736b0d7f86d",
    "univ3_usdc_weth_005_ticks.parquet": "c39c770b14620f5017630c64bc8f5db43f1f163b2bc21f017b3a9439a1aaa20e",
    "univ3_usdc_weth_005_meta.json": "d0f3afe5bec3e622b23073a8ba4f4b38dfe6385cee0869fcdb86e32e667d3519",
}


@pytest.mark.parametrize("name", sorted(SOURCE_SHA256))
def test_copies_are_the_source_bytes(name: str) -> None:
    raw = FILES.joinpath(name).read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    assert hashlib.sha256(raw).hexdigest() == SOURCE_SHA256[name]


@needs_pack
def test_build_reproduces_every_shipped_file(tmp_path: Path) -> None:
    written = _build.build_all(PACK, tmp_path)
    assert {p.name for p in written} == set(_build.BUILDERS)
    for path in written:
        assert path.read_bytes() == FILES.joinpath(path.name).read_bytes(), path.name


def test_build_refuses_a_missing_pack(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="data pack not found"):
        _build.build_all(tmp_path / "nowhere", tmp_path)


def test_build_rejects_an_unknown_name(tmp_path: Path) -> None:
    tmp_path.joinpath("pack").mkdir()
    with pytest.raises(KeyError, match=r"no builder for 'x\.csv\.gz'"):
        _build.build_all(tmp_path / "pack", tmp_path / "out", ["x.csv.gz"])

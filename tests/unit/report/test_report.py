"""The HTML report and its words: self-contained, escaped, and showing the numbers worked out by hand.

The run is the hand-built one of conftest.py (100 paths). By hand, from its metrics:

* expected bad debt = 56,000 / 100 = $560; its standard error is the sample standard deviation over sqrt(100):
  sum of squares 1e6 (1 + 4 + ... + 64) + 2 * 1e8 = 4.04e8, variance (4.04e8 - 100 * 560**2) / 99 = 3,764,040.4,
  standard deviation 1,940.1, standard error $194;
* P(bad debt) = 10 / 100 = 10.00 % with standard error sqrt(0.1 * 0.9 / 100) = 3.00 %;
* P(insolvency) = 5 / 100 = 5.00 % with standard error sqrt(0.05 * 0.95 / 100) = 2.18 %;
* amplification WETH = mean realised drawdown / mean exogenous drawdown = (1 - 0.7475) / (1 - 0.798) = 1.250;
* liquidated 100 i: mean $4.95k; slippage 10 i: mean $495; deepest cascade 3 rounds.
"""

from __future__ import annotations

import dataclasses
import re
import sys

import numpy as np
import plotly.offline
import pytest

from firesale.analysis.compare import tail_standard_errors
from firesale.exceptions import ParameterError
from firesale.report import _format as fmt, build_charts, render_report, summarize, write_report
from firesale.report._view import TAIL_N_BOOT
from firesale.store import RunStore

EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|<link\b|@import|url\(\s*["']?(?:https?:)?//""", re.I
)
EVIL_NAME = "<script>alert(1)</script>"


def row(html: str, label: str) -> list[str]:
    """The cells of the first table row whose first cell is ``label``."""
    m = re.search(r"<tr><td>" + re.escape(label) + r"</td>(.*?)</tr>", html, re.S)
    assert m, label
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", m.group(1), re.S)]


def no_bad_debt(result):
    m = result.metrics.copy()
    for col in ("bad_debt_usd", "bad_debt_usd_lender", "bad_debt_peak_usd"):
        m[col] = 0.0
    m["insolvent"] = False
    return dataclasses.replace(result, metrics=m)


def test_one_self_contained_file(result):
    html = render_report(result)
    assert html.startswith("<!DOCTYPE html>")
    js = plotly.offline.get_plotlyjs()
    assert html.count(js[:500]) == 1  # plotly.js inlined, once
    rest = html.replace(js, "")
    assert not EXTERNAL.findall(rest)
    assert "Content-Security-Policy" in rest and "default-src 'none'" in rest
    drawn = [c.key for c in build_charts(result) if c.figure is not None]
    assert re.findall(r'<div id="chart-([a-z0-9-]+)" class="plotly-graph-div"', html) == drawn


def test_rendering_is_deterministic(result, make_run):
    assert render_report(result) == render_report(make_run())


def test_header_and_headline_numbers(result):
    html = render_report(result)
    assert '<h1 id="scenario-name">toy-spiral</h1>' in html
    assert "Toy world: a 30% ETH crash in one hour" in html
    for label, value in (
        ("seed", "7"),
        ("firesale version", "9.9.9"),
        ("paths", "100"),
        ("horizon", "2 h (24 steps of 5 min)"),
        ("wall time", "2.5 s"),
        ("market model", "shock"),
    ):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in html, label
    # The s.e. of $194 is 35 % of the mean: flagged. VaR 99 % and ES 99 % rest on 1 path beyond the quantile.
    assert row(html, "Expected bad debt") == [
        "$560",
        "$194",
        "too few paths: the s.e. is 35% of the estimate",
    ]
    assert row(html, "P(any bad debt)") == ["10.00%", "3.00%", "ok"]  # 30 % of the estimate
    assert row(html, "P(insolvency)") == ["5.00%", "2.18%", "too few paths: the s.e. is 44% of the estimate"]
    bad = np.where(np.arange(100) >= 90, 1000.0 * (np.arange(100) - 89), 0.0)
    bad[98] = 10_000.0
    se = tail_standard_errors(bad, n_boot=TAIL_N_BOOT)  # the report's bootstrap, same seed
    for label, key in (("Bad-debt VaR 99%", "bad_debt_var99_usd"), ("Bad-debt ES 99%", "bad_debt_es99_usd")):
        assert row(html, label) == [
            "$10.0k",
            fmt.money_se(10_000.0, se[f"{key}_se"]),
            "too few paths: only 1 beyond the 99% quantile",
        ]
    assert row(html, "Amplification WETH") == ["1.250×", "none reported", "ok"]
    assert "Amplification USDC" not in html  # USDC never moved: no ratio to report


def test_summary_in_words(result):
    assert summarize(result).splitlines() == [
        "toy-spiral: 100 paths, seed 7, firesale 9.9.9, horizon 2 h (24 steps of 5 min).",
        "In 5.00% ± 2.18% of 100 paths the protocol ends insolvent.",
        "Expected bad debt $560 ± $194; bad debt occurs in 10.00% ± 3.00% of paths; VaR 99% $10.0k, ES 99% $10.0k.",
        "Liquidations repaid $4.95k of debt per path on average, at most 3 cascade rounds in one step; liquidators "
        "lost $495 to slippage.",
        "Amplification (mean realised drawdown over mean exogenous drawdown; above 1 means liquidations deepened the "
        "fall): WETH 1.250×.",
        "Systemic failure state (two or more failure flags at once) in 0% of paths.",
    ]
    html = render_report(result)
    for line in summarize(result).splitlines():
        assert f"<p>{line}</p>" in html  # the report says it in the same words


def test_comparison_shows_differences(result):
    other = no_bad_debt(result)
    full = render_report(result, compare=other)
    html = full[full.index('<section id="comparison-table">') :]
    # Same seed and paths: paired. The per-path difference of bad debt is -bd_i, so its s.e. is that of A's mean,
    # $194 (interval -560 -+ 1.96 * 194.01 = [-$940, -$180]). P(any bad debt): the difference is -1 on 10 paths of
    # 100, s.e. sqrt(0.1 * 0.9 * 100 / 99) / 10 = 3.02 pp; P(insolvency): -1 on 5, sqrt(0.05 * 0.95 * 100/99)/10.
    assert row(html, "Expected bad debt") == ["$560", "$0", "-$560", "$194", "[-$940, -$180]"]
    assert row(html, "P(any bad debt)")[:4] == ["10.00%", "0%", "-10.00 pp", "3.02 pp"]
    assert row(html, "P(insolvency)")[:4] == ["5.00%", "0%", "-5.00 pp", "2.19 pp"]
    assert row(html, "Bad-debt ES 99%")[:3] == ["$10.0k", "$0", "-$10.0k"]
    assert 'id="paired-note">Paired on common random numbers: both runs have seed 7' in html
    assert summarize(result, compare=other).splitlines()[-1] == (
        "Compared with toy-spiral (seed 7) (B minus A, paired on common random numbers): expected bad debt "
        "-$560 ± $194; P(insolvency) -5.00 pp ± 2.19 pp; ES 99% -$10.0k ± "
        + row(html, "Bad-debt ES 99%")[3]
        + "."
    )
    tail = build_charts(result, compare=other)[0]
    assert tail.key == "compare-tail" and "Run B has no path with bad debt" in tail.note


def test_user_strings_are_escaped(make_run):
    evil = make_run(
        name=EVIL_NAME, description='<img src=x onerror=alert(2)> & "more"', protocol="<b>bold</b>"
    )
    html = render_report(evil, compare=evil)
    rest = html.replace(plotly.offline.get_plotlyjs(), "")
    assert EVIL_NAME not in rest and "<img src=x" not in rest and "<b>bold</b>" not in rest
    assert '<h1 id="scenario-name">&lt;script&gt;alert(1)&lt;/script&gt;</h1>' in html
    assert "&lt;img src=x onerror=alert(2)&gt; &amp; &#34;more&#34;" in html
    # Plotly reads its strings as HTML-like text: they are handed over as entities, which plotly shows literally.
    charts = {c.key: c for c in build_charts(evil, compare=evil)}
    names = [t.name for t in charts["compare-tail"].figure.data]
    assert names[0] == "A: &lt;script&gt;alert(1)&lt;/script&gt; (seed 7)"
    assert list(charts["bad-debt-protocol"].figure.data[0].x) == ["&lt;b&gt;bold&lt;/b&gt;"]


def test_write_report(result, tmp_path):
    target = tmp_path / "new" / "folder" / "report.html"
    out = write_report(result, target)
    assert out == target
    assert target.read_text(encoding="utf-8") == render_report(result)
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]  # no temporary file left
    write_report(result, str(target))  # replaces it


def test_bad_arguments(result, tmp_path):
    with pytest.raises(
        ParameterError,
        match=r"^The 'source' parameter of write_report must be a SimulationResult or a StoredRun\. "
        r"Got NoneType instead\.$",
    ):
        write_report(None, tmp_path / "r.html")
    with pytest.raises(
        ParameterError, match=r"The 'compare' parameter of render_report must be .* Got int instead"
    ):
        render_report(result, compare=3)
    with pytest.raises(
        ParameterError, match=r"The 'source' parameter of summarize must be .* Got str instead"
    ):
        summarize("toy-spiral")
    with pytest.raises(
        ParameterError,
        match=r"The 'path' parameter of write_report must be a file, not a folder\. Got '.*' instead\.",
    ):
        write_report(result, tmp_path)
    with pytest.raises(
        ParameterError,
        match=r"The 'path' parameter of write_report must be a path \(str or os\.PathLike\)\. Got int",
    ):
        write_report(result, 5)
    with pytest.raises(ParameterError, match=r"The 'png_dir' parameter of write_report must be a path"):
        write_report(result, tmp_path / "r.html", png_dir=1.5)
    assert not (tmp_path / "r.html").exists()  # nothing written on bad input


def test_png_export_without_kaleido_says_how_to_get_it(result, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido now raises ImportError
    with pytest.raises(ImportError, match=r"PNG export needs the kaleido package .* pip install kaleido"):
        write_report(result, tmp_path / "r.html", png_dir=tmp_path / "png")
    assert (tmp_path / "r.html").exists()  # the HTML comes first


def store_run(store: RunStore, result, *, scenario_hash: str | None = None) -> str:
    sc = result.scenario
    run_id = store.start(
        scenario_name=sc.name, scenario_hash=scenario_hash or sc.content_hash, scenario_text=sc.text,
        seed=result.seed, version=result.version, n_paths=result.n_paths, n_steps=sc.spec.simulation.n_steps,
        parameters={"source": sc.source, "batch_size": None, "n_steps": sc.spec.simulation.n_steps},
    )  # fmt: skip
    store.finish(
        run_id, metrics=result.metrics, summary=result.summary(), series={"series": result.series},
        wall_seconds=result.wall_seconds,
    )  # fmt: skip
    return run_id


def test_stored_runs_report_like_fresh_ones(result, tmp_path):
    store = RunStore(tmp_path / "store")
    run_id = store_run(store, result)
    stored = store.get(run_id)
    html = render_report(stored)
    assert f"<dt>run</dt><dd>{run_id}</dd>" in html
    assert "<dt>horizon</dt><dd>2 h (24 steps of 5 min)</dd>" in html  # dt read back from the scenario text
    assert row(html, "Expected bad debt")[:2] == ["$560", "$194"]
    charts = {c.key: c for c in build_charts(stored)}
    fresh = {c.key: c for c in build_charts(result)}
    assert charts.keys() == fresh.keys()
    per_path = {"worst-paths", "worst-prices"}  # a stored run keeps quantiles, not each path
    assert all((charts[k].figure is None) == (fresh[k].figure is None) for k in charts if k not in per_path)
    assert all(charts[k].figure is None and "keeps quantiles over paths" in charts[k].note for k in per_path)
    np.testing.assert_allclose(
        charts["health-factors"].figure.data[1].y, fresh["health-factors"].figure.data[1].y, rtol=1e-12
    )
    assert summarize(stored).splitlines()[1:] == summarize(result).splitlines()[1:]


def test_stored_run_whose_book_changed_omits_the_book_charts(result, tmp_path):
    store = RunStore(tmp_path / "store")
    stored = store.get(store_run(store, result, scenario_hash="0" * 64))
    charts = {c.key: c for c in build_charts(stored)}
    for key in ("health-factors", "liquidation-curve"):
        assert charts[key].figure is None
        assert "changed since the run" in charts[key].note


def test_unfinished_stored_runs_are_refused(result, tmp_path):
    store = RunStore(tmp_path / "store")
    sc = result.scenario
    run_id = store.start(
        scenario_name=sc.name, scenario_hash=sc.content_hash, scenario_text=sc.text, seed=7, version="9.9.9",
        n_paths=100, n_steps=24, parameters={"source": "toy-spiral"},
    )  # fmt: skip
    with pytest.raises(
        ParameterError,
        match=rf"^The 'source' parameter of write_report must be a complete run\. Got run {run_id} with status "
        r"'running' instead\.$",
    ):
        write_report(store.get(run_id), tmp_path / "r.html")

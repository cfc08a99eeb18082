"""The n-of-1 change-point case study (case_studies/nof1): every number its README states is
what rdstats computes, and the documented answers (issue 7 validation: Nile first new-level
year 1899 with the 95% credible set within 1895-1902; coal-mining disaster rate falling
around 1890-1891 from about 3.1 to about 0.9 a year) hold.

The README's tables are parsed, so the README cannot drift from the library. Numbers are
compared at the precision they are printed with (half a unit of the last digit); sets of
years are compared as text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rdstats.datasets import load_coal, load_nile
from rdstats.nof1 import JumpResult, detect_jump

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "case_studies" / "nof1" / "README.md").read_text(encoding="utf-8")
REF = {
    c["kind"]: c["expected"]
    for c in json.loads((ROOT / "tests" / "reference" / "nof1_series.json").read_text())["cases"]
}
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _year_ranges(years: Any) -> str:
    """Compact text of a set of years as the README writes it: ``1886–1893, 1896``."""
    ys = sorted(int(y) for y in years)
    runs, start = [], ys[0]
    for a, b in zip(ys, [*ys[1:], None], strict=True):
        if b != a + 1:
            runs.append(f"{start}" if start == a else f"{start}–{a}")
            start = b if b is not None else a
    return ", ".join(runs)


def _tolerance(text: str) -> float:
    decimals = len(text.partition(".")[2])
    return 0.5 * 10.0**-decimals + 1e-12


def _numbers(cell: str) -> list[str]:
    return NUMBER.findall(cell.replace("−", "-"))


def _table(first_header: str, after: str = "") -> dict[str, list[str]]:
    """Rows of the first README table whose header row starts with ``first_header``,
    after the line starting with ``after``."""
    lines = README.splitlines()
    begin = next(i for i, ln in enumerate(lines) if ln.startswith(after)) if after else 0
    start = next(
        i for i, ln in enumerate(lines) if i >= begin and ln.startswith(f"| {first_header} |")
    )
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def _check(cell: str, expected: Any, name: str) -> None:
    if isinstance(expected, str):
        assert cell == expected, name
        return
    printed = _numbers(cell)
    values = np.atleast_1d(np.asarray(expected, dtype=float))
    assert len(printed) == values.size, (name, cell)
    for text, value in zip(printed, values, strict=True):
        assert value == pytest.approx(float(text), abs=_tolerance(text)), (name, cell)


def _rates(res: JumpResult) -> tuple[float, float]:
    c = res.fit.components
    w = res.weights / res.weights.sum()
    return float(np.sum(w * c.a_pre / c.b_pre)), float(np.sum(w * c.a_post / c.b_post))


def _jump(res: JumpResult) -> tuple[float, float, float]:
    j = res.jump
    return float(j["mean"]), float(j["lower"]), float(j["upper"])


@pytest.fixture(scope="module")
def nile() -> dict[str, JumpResult]:
    d = load_nile()
    variants = {
        "level only (default)": {},
        "AR(1) errors": {"ar1": True},
        "linear trend": {"trend": True},
        "trend + AR(1)": {"trend": True, "ar1": True},
    }
    return {k: detect_jump(d["flow"], d["year"], **kw) for k, kw in variants.items()}


@pytest.fixture(scope="module")
def coal() -> dict[str, JumpResult]:
    d = load_coal()
    expo = np.r_[np.ones(len(d) - 1), 81 / 365]
    variants: dict[str, dict[str, Any]] = {
        "level only (default)": {},
        "1962 observed to 22 March": {"exposure": expo},
        "log-linear trend": {"trend": True},
    }
    return {
        k: detect_jump(d["disasters"], d["year"], family="poisson", **kw)
        for k, kw in variants.items()
    }


def test_documented_answers(nile: dict[str, JumpResult], coal: dict[str, JumpResult]) -> None:
    """The issue's validation targets (tests/reference/nof1_series.json)."""
    for res in nile.values():
        assert res.map_change_time == REF["nile"]["map_first_new_year"]
        lo, hi = REF["nile"]["credible_set_within"]
        cs = res.credible_set(0.95)
        assert lo <= cs.min() and cs.max() <= hi
    for res in coal.values():
        assert res.map_change_time - 1 in REF["coal"]["last_old_year_in"]
    before, after = _rates(coal["level only (default)"])
    assert round(before, 1) == 3.1 and round(after, 1) == 0.9


def test_readme_reproduction_table(
    nile: dict[str, JumpResult], coal: dict[str, JumpResult]
) -> None:
    n, c = nile["level only (default)"], coal["level only (default)"]
    post_n = n.change_time_posterior / n.prob_change
    post_c = c.change_time_posterior / c.prob_change
    expected: dict[str, Any] = {
        "Nile: first year of the new level (posterior mode)": n.map_change_time,
        "Nile: 95% credible set of the first new-level year": _year_ranges(n.credible_set(0.95)),
        "Nile: posterior probability of 1899": post_n.loc[1899.0],
        "Nile: change in mean flow, 95% interval (10^8 m^3)": _jump(n),
        "coal: last year of the high rate (posterior mode)": c.map_change_time - 1,
        "coal: 95% credible set of the last high-rate year": _year_ranges(c.credible_set(0.95) - 1),
        "coal: posterior probability of 1890 or 1891": post_c.loc[1891.0:1892.0].sum(),
        "coal: disasters a year before the change": _rates(c)[0],
        "coal: disasters a year after the change": _rates(c)[1],
        "coal: rate ratio, 95% interval": _jump(c),
    }
    table = _table("quantity")
    assert set(table) == set(expected)
    for name, (_, ours) in table.items():
        _check(ours, expected[name], name)


def test_readme_documented_column() -> None:
    """The documented Nile segment means are the data's (split at 1898/1899)."""
    d = load_nile()
    before = d.flow[d.year <= 1898].mean()
    after = d.flow[d.year >= 1899].mean()
    cell = _table("quantity")["Nile: change in mean flow, 95% interval (10^8 m^3)"][0]
    _check(cell, (before - after, before, after), "documented Nile means")
    shrink = re.search(r"shrinkage of (\d+)%", README)
    assert shrink is not None
    n = detect_jump(d["flow"], d["year"])
    assert 1 + n.jump["mean"] / (before - after) == pytest.approx(
        int(shrink.group(1)) / 100, abs=0.005
    )


@pytest.mark.parametrize(("series", "marker"), [("nile", "Nile ("), ("coal", "Coal (")])
def test_readme_sensitivity_tables(
    series: str, marker: str, nile: dict[str, JumpResult], coal: dict[str, JumpResult]
) -> None:
    fits = nile if series == "nile" else coal
    shift = 0 if series == "nile" else 1  # coal reports the last high-rate year
    table = _table("analysis", after=marker)
    assert set(table) == set(fits)
    for name, (mode, cs, p, jump) in table.items():
        res = fits[name]
        _check(mode, res.map_change_time - shift, name)
        _check(cs, _year_ranges(res.credible_set(0.95) - shift), name)
        _check(p, res.prob_change, name)
        _check(jump, _jump(res), name)


def test_readme_several_changes_table() -> None:
    from rdstats.nof1 import multiple_changes

    d, c = load_nile(), load_coal()
    fits = {
        "Nile": (multiple_changes(d["flow"], d["year"], n_samples=0), (1895, 1902)),
        "coal": (
            multiple_changes(c["disasters"], c["year"], family="poisson", n_samples=0),
            (1887, 1897),
        ),
    }
    table = _table("quantity (several changes)")
    for col, (name, (res, (lo, hi))) in enumerate(fits.items()):
        seg = res.summary()
        cp = res.change_probability
        expected = {
            "P(one change)": res.n_changes_posterior.loc[1],
            "P(two changes)": res.n_changes_posterior.loc[2],
            "most probable segmentation: first year of each new segment": tuple(res.map_changes),
            "expected number of changes with the first new year in 1895–1902 (Nile), "
            "1887–1897 (coal)": cp.loc[lo:hi].sum(),
            "expected number of changes with the first new year in 1940–1952": cp.loc[
                1940:1952
            ].sum(),
            "level before the first change (95% interval)": tuple(
                seg.loc[0, ["mean", "lower", "upper"]]
            ),
            "level after it": tuple(seg.loc[1, ["mean", "lower", "upper"]]),
        }
        assert set(table) == set(expected)
        for quantity, cells in table.items():
            _check(cells[col], expected[quantity], f"{name}: {quantity}")


def test_coal_posterior_from_scratch(coal: dict[str, JumpResult]) -> None:
    """The README's claim: the coal change-year posterior and Bayes factor written out with
    gamma-function marginals (Ga(1, years / disasters) rates) equal the library's."""
    assert "agree with the library to rounding error" in README
    from scipy.special import gammaln

    res = coal["level only (default)"]
    y = load_coal()["disasters"].to_numpy(dtype=float)
    n = y.size
    a, b = 1.0, n / y.sum()

    def log_segment(total: float, years: float) -> float:
        return float(
            a * np.log(b) - gammaln(a) + gammaln(a + total) - (a + total) * np.log(b + years)
        )

    log_m = np.array(
        [log_segment(y[:j].sum(), j) + log_segment(y[j:].sum(), n - j) for j in range(1, n)]
    )
    post = np.exp(log_m - log_m.max())
    post /= post.sum()
    ours = (res.change_time_posterior / res.prob_change).to_numpy()
    np.testing.assert_allclose(post, ours, rtol=0, atol=1e-12)
    log_bf = np.log(np.mean(np.exp(log_m - log_m.max()))) + log_m.max() - log_segment(y.sum(), n)
    assert log_bf == pytest.approx(np.log(res.bayes_factor), rel=1e-10)

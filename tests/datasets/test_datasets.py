"""Tests for rdstats.datasets: shapes, dtypes, published totals, copies, sources.

Reference values: the RBesT data-building script tools/make-ds.R (github.com/Novartis/RBesT)
and, for crohn, the table of the RBesT vignette "RBesT for a Normal Endpoint" (n, y, y.se
with y.se = 88 / sqrt(n), rounded to 2 decimals).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rdstats.datasets as ds
from rdstats.datasets import (
    CROHN_SIGMA,
    SOURCES,
    list_datasets,
    load_as,
    load_colitis,
    load_crohn,
    load_transplant,
)

BINARY = {
    "as": (load_as, 8, 513, 127),
    "colitis": (load_colitis, 4, 363, 40),
    "transplant": (load_transplant, 11, 930, 198),
}
ALL_LOADERS = [load_as, load_colitis, load_crohn, load_transplant]


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_shape_dtypes_totals(name: str) -> None:
    loader, k, n_total, r_total = BINARY[name]
    df = loader()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["study", "n", "r"]
    assert df.shape == (k, 3)
    assert df["n"].dtype == np.int64
    assert df["r"].dtype == np.int64
    assert df["study"].map(type).eq(str).all()
    assert df["study"].is_unique
    assert int(df["n"].sum()) == n_total
    assert int(df["r"].sum()) == r_total
    assert ((df["r"] >= 0) & (df["r"] <= df["n"]) & (df["n"] > 0)).all()
    assert not df.isna().any().any()
    assert isinstance(df.index, pd.RangeIndex)


def test_as_values() -> None:
    df = load_as()
    assert df["study"].tolist() == [f"Study {i}" for i in range(1, 9)]
    assert df["n"].tolist() == [107, 44, 51, 39, 139, 20, 78, 35]
    assert df["r"].tolist() == [23, 12, 19, 9, 39, 6, 9, 10]


def test_colitis_values() -> None:
    df = load_colitis()
    assert df["study"].tolist() == ["Van_assche", "Feagan", "Rutgeerts-1", "Rutgeerts-2"]
    assert df["n"].tolist() == [56, 63, 121, 123]
    assert df["r"].tolist() == [6, 9, 18, 7]


def test_transplant_values() -> None:
    df = load_transplant()
    assert df["study"].tolist() == [f"Study {i}" for i in range(1, 12)]
    assert df["n"].tolist() == [33, 45, 74, 103, 140, 49, 83, 59, 22, 109, 213]
    assert df["r"].tolist() == [6, 8, 17, 28, 26, 8, 22, 8, 6, 16, 53]


def test_crohn_values_and_se() -> None:
    df = load_crohn()
    assert list(df.columns) == ["study", "n", "mean", "se"]
    assert df.shape == (6, 4)
    assert df["n"].dtype == np.int64
    assert df["mean"].dtype == np.float64
    assert df["se"].dtype == np.float64
    assert not df.isna().any().any()
    assert df["study"].tolist() == [
        "Gastr06",
        "AIMed07",
        "NEJM07",
        "Gastr01a",
        "APhTh04",
        "Gastr01b",
    ]
    assert df["n"].tolist() == [74, 166, 328, 20, 25, 58]
    assert df["mean"].tolist() == [-51.0, -49.0, -36.0, -47.0, -90.0, -54.0]
    assert int(df["n"].sum()) == 671
    assert CROHN_SIGMA == 88.0
    np.testing.assert_allclose(df["se"], 88.0 / np.sqrt(df["n"]), rtol=1e-15)
    # RBesT vignette table, y.se rounded to 2 decimals
    np.testing.assert_array_equal(df["se"].round(2), [10.23, 6.83, 4.86, 19.68, 17.60, 11.55])
    # sample-size weighted mean change, a published-data sanity check
    assert np.isclose(np.average(df["mean"], weights=df["n"]), -44.7660, atol=1e-4)


@pytest.mark.parametrize("loader", ALL_LOADERS)
def test_loaders_return_fresh_copies(loader) -> None:
    first = loader()
    expected = loader()
    first.loc[0, "n"] = 10**6
    first["study"] = "changed"
    first.drop(columns=first.columns[-1], inplace=True)
    again = loader()
    pd.testing.assert_frame_equal(again, expected)
    assert again is not expected
    assert not np.shares_memory(again["n"].to_numpy(), expected["n"].to_numpy())


@pytest.mark.parametrize("loader", ALL_LOADERS)
def test_loaders_are_deterministic(loader) -> None:
    pd.testing.assert_frame_equal(loader(), loader())


def test_list_datasets() -> None:
    table = list_datasets()
    assert list(table.columns) == [
        "name",
        "family",
        "n_studies",
        "n_patients",
        "description",
        "source",
        "rbest_name",
    ]
    assert table["name"].tolist() == ["as", "colitis", "crohn", "transplant"]
    assert table["family"].tolist() == ["binomial", "binomial", "normal", "binomial"]
    assert table["n_studies"].tolist() == [8, 4, 6, 11]
    assert table["n_patients"].tolist() == [513, 363, 671, 930]
    assert table["rbest_name"].tolist() == ["AS", "colitis", "crohn", "transplant"]
    assert not table.isna().any().any()
    for name in table["name"]:
        assert callable(getattr(ds, f"load_{name}"))


def test_sources_complete() -> None:
    assert set(SOURCES) == {"as", "colitis", "crohn", "transplant"}
    for name, src in SOURCES.items():
        assert {"family", "description", "citation", "rbest_name", "checked_against"} <= set(src)
        assert "doi:" in src["citation"], name
        assert any("make-ds.R" in c for c in src["checked_against"]), name
    assert "Baeten" in SOURCES["as"]["citation"]
    assert "Hueber" in SOURCES["crohn"]["citation"]
    assert "Neuenschwander" in SOURCES["transplant"]["citation"]
    assert "Schmidli" in SOURCES["colitis"]["citation"]


@pytest.mark.parametrize("loader", ALL_LOADERS)
def test_docstrings_cite_sources(loader) -> None:
    doc = loader.__doc__
    assert "References" in doc and "Examples" in doc and "doi:" in doc


def test_public_api() -> None:
    assert sorted(ds.__all__) == sorted(
        [
            "CROHN_SIGMA",
            "OBSERVATIONAL_SOURCES",
            "SERIES_SOURCES",
            "SOURCES",
            "list_datasets",
            "load_as",
            "load_coal",
            "load_coal_dates",
            "load_colitis",
            "load_crohn",
            "load_lalonde",
            "load_nile",
            "load_nsw_experiment",
            "load_transplant",
        ]
    )


def test_observational_data_match_the_published_files() -> None:
    """lalonde: 185 treated + 429 comparison men (MatchIt/cobalt); NSW experiment: 185
    treated + 260 randomised controls; the experimental ATT on re78 is 1794.34."""
    lal = ds.load_lalonde()
    assert lal.shape == (614, 10) and int(lal.treat.sum()) == 185
    assert set(lal.race) == {"black", "hispan", "white"}
    nsw = ds.load_nsw_experiment()
    assert (int(nsw.treat.sum()), int((1 - nsw.treat).sum())) == (185, 260)
    att = nsw.re78[nsw.treat == 1].mean() - nsw.re78[nsw.treat == 0].mean()
    assert round(float(att), 2) == 1794.34
    assert "LaLonde" in ds.OBSERVATIONAL_SOURCES["lalonde"]["citation"]
    lal.loc[0, "age"] = -1  # a fresh copy each time
    assert ds.load_lalonde().loc[0, "age"] != -1


def test_attrs_name_source() -> None:
    df = load_transplant()
    assert df.attrs["name"] == "transplant"
    assert "Clinical Trials" in df.attrs["source"]


def test_package_data_declared() -> None:
    """The CSV files must be shipped in wheels: pyproject declares them as package data."""
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    if not pyproject.exists():  # pragma: no cover - installed package without sources
        pytest.skip("pyproject.toml not available")
    cfg = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    package_data = cfg["tool"]["setuptools"]["package-data"]
    assert "data/*.csv" in package_data["rdstats.datasets"]


def test_change_point_series() -> None:
    nile = ds.load_nile()
    assert list(nile.columns) == ["year", "flow"]
    assert nile["year"].tolist() == list(range(1871, 1971))
    assert nile.attrs["source"] == ds.SERIES_SOURCES["nile"]["citation"]
    dates = ds.load_coal_dates()
    assert dates.size == 191 and dates.is_monotonic_increasing
    assert 1851.2 < dates.min() < 1851.3 and 1962.2 < dates.max() < 1962.3
    coal = ds.load_coal()
    assert coal["year"].tolist() == list(range(1851, 1963))
    assert int(coal["disasters"].sum()) == 191
    assert (coal["disasters"] == 0).any()  # zero-count years are kept
    for name in ("nile", "coal"):
        assert {"description", "citation", "answer"} <= set(ds.SERIES_SOURCES[name])
    first = ds.load_nile()
    first.loc[0, "flow"] = -1  # a fresh copy every call
    assert ds.load_nile()["flow"].iloc[0] == 1120

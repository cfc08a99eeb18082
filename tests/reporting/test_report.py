"""The HTML report: well-formed, self-contained, escaped, and faithful to the result.

The report is parsed with :mod:`html.parser`; every non-void element must be closed in
order, the five sections must be present, plots must be embedded PNGs and nothing may be
fetched from elsewhere.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from rdstats.designs import DecisionRule, OneArmDesign, TwoArmDesign
from rdstats.priors import BetaMixture, NormalMixture
from rdstats.reporting import oc_report_html, write_report
from rdstats.simulate import OCResult, ScenarioGrid, SimulationSpec, operating_characteristics

pytest.importorskip("matplotlib")

SECTIONS = ["Design", "Scenarios", "Operating characteristics", "Plots", "Provenance"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
NASTY = "<b>&"  # a scenario label that is also markup


class Report(HTMLParser):
    """Parse a report: check nesting, record sections, table cells, images and tags."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.section = ""  # text of the latest <h2>
        self.sections: list[str] = []
        self.title = ""
        self.text: dict[str, list[str]] = {}  # section -> text chunks
        self.tags_in: dict[str, list[str]] = {}  # section -> start tags
        self.rows: dict[str, list[list[str]]] = {}  # section -> body rows (cell texts)
        self.heads: dict[str, list[list[str]]] = {}  # section -> header rows
        self._thead = False
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed at end: {self.stack}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.tags_in.setdefault(self.section, []).append(tag)
        if tag == "thead":
            self._thead = True
        if tag == "tr":
            target = self.heads if self._thead else self.rows
            target.setdefault(self.section, []).append([])
        if tag in ("td", "th"):
            self._cell = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.tags_in.setdefault(self.section, []).append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'} at {self.getpos()}")
            if tag in self.stack:  # recover
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag == "thead":
            self._thead = False
        if tag in ("td", "th") and self._cell is not None:
            target = self.heads if self._thead else self.rows
            target[self.section][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "h2":
            self.section = data.strip()
            self.sections.append(self.section)
            return
        if self.stack and self.stack[-1] == "title":
            self.title += data
        if self._cell is not None:
            self._cell.append(data)
        self.text.setdefault(self.section, []).append(data)

    def images(self) -> list[str]:
        return [a.get("src") or "" for t, a in self.tags if t == "img"]

    def table(self, section: str) -> tuple[list[str], list[list[str]]]:
        """Column names (first header row) and body rows of the table of ``section``."""
        return self.heads[section][0], self.rows[section]


# -------------------------------------------------------------------------- fixtures
ONE_ARM = OneArmDesign(BetaMixture([0.5, 0.5], [1, 3], [1, 7]), 20, DecisionRule(0.9, 0.2))
GRID = ScenarioGrid(
    {"theta": [0.1, 0.2, 0.35, 0.5], "label": ["p0", NASTY, "a\"'quote", "p ≥ 0.5 (α)"]}
).with_null([True, True, False, False])


@pytest.fixture(scope="module")
def mc_result() -> OCResult:
    return operating_characteristics(ONE_ARM, GRID, n_trials=800, rng=5, progress=False)


@pytest.fixture(scope="module")
def exact_result() -> OCResult:
    return operating_characteristics(ONE_ARM, GRID, method="exact", progress=False)


@pytest.fixture(scope="module")
def mc_report(mc_result: OCResult) -> tuple[str, Report]:
    text = oc_report_html(mc_result)
    return text, Report(text)


@pytest.fixture(scope="module")
def exact_report(exact_result: OCResult) -> tuple[str, Report]:
    text = oc_report_html(exact_result)
    return text, Report(text)


# --------------------------------------------------------------------------- structure
@pytest.mark.parametrize("which", ["mc_report", "exact_report"])
def test_well_formed(which: str, request: pytest.FixtureRequest) -> None:
    text, rep = request.getfixturevalue(which)
    assert text.startswith("<!DOCTYPE html>")
    assert rep.errors == []
    names = [t for t, _ in rep.tags]
    for tag in ("html", "head", "title", "meta", "style", "body", "h1", "table"):
        assert tag in names, tag
    assert names.index("head") < names.index("title") < names.index("body")
    assert names.count("html") == names.count("head") == names.count("body") == 1
    assert rep.title == "Operating characteristics"
    assert rep.sections == SECTIONS
    assert any(a.get("charset", "").lower() == "utf-8" for t, a in rep.tags if t == "meta")


@pytest.mark.parametrize("which", ["mc_report", "exact_report"])
def test_embedded_png(which: str, request: pytest.FixtureRequest) -> None:
    _, rep = request.getfixturevalue(which)
    images = rep.images()
    assert images, "no plot in the report"
    for src in images:
        m = re.fullmatch(r"data:image/png;base64,([A-Za-z0-9+/=]+)", src)
        assert m is not None, src[:60]
        png = base64.b64decode(m.group(1), validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(png) > 1000
    # the plots sit in the Plots section, with captions
    assert "img" in rep.tags_in["Plots"]
    assert "figcaption" in rep.tags_in["Plots"]
    assert "P(positive decision)" in "".join(rep.text["Plots"])


@pytest.mark.parametrize("which", ["mc_report", "exact_report"])
def test_self_contained(which: str, request: pytest.FixtureRequest) -> None:
    text, rep = request.getfixturevalue(which)
    lowered = text.lower()
    assert 'src="http' not in lowered and "src='http" not in lowered
    assert "<link" not in lowered
    assert "<script" not in lowered
    assert "@import" not in lowered
    assert "url(" not in lowered
    for tag, attrs in rep.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith("data:"), (tag, name, value[:40])
    assert not [t for t, _ in rep.tags if t in ("script", "link", "iframe", "object")]


# ---------------------------------------------------------------- tables and content
def _oc_table(rep: Report) -> tuple[list[str], list[list[str]]]:
    return rep.table("Operating characteristics")


def test_oc_table_has_mcse(mc_report: tuple[str, Report], mc_result: OCResult) -> None:
    _, rep = mc_report
    header, rows = _oc_table(rep)
    wide = mc_result.summary(wide=True)
    assert len(rows) == len(GRID)
    col = header.index("p_success")
    assert [r[0] for r in rows] == GRID.labels  # the index is the scenario label
    for row, (_, expected) in zip(rows, wide.iterrows(), strict=True):
        cell = row[col]
        assert "±" in cell
        value, mcse = (float(v) for v in cell.split("±"))
        assert value == pytest.approx(expected["p_success"], abs=5e-5)
        assert mcse == pytest.approx(expected["p_success_mcse"], abs=5e-5)
    # every non-empty metric cell carries its MCSE
    params = {"theta", "null", ""}
    for row in rows:
        for name, cell in zip(header[1:], row[1:], strict=True):
            if name not in params and cell:
                assert "±" in cell, (name, cell)
    assert "± MCSE" in text_of(rep, "")  # the method line explains the ± notation


def text_of(rep: Report, section: str) -> str:
    return "".join(rep.text.get(section, []))


def test_exact_table_has_no_mcse(exact_report: tuple[str, Report]) -> None:
    _, rep = exact_report
    header, rows = _oc_table(rep)
    assert len(rows) == len(GRID)
    for row in rows:
        assert not any("±" in cell for cell in row), row
    col = header.index("p_success")
    expected = ONE_ARM.oc(GRID.table["theta"].to_numpy())
    np.testing.assert_allclose([float(r[col]) for r in rows], expected, atol=5e-5)
    assert "exact" in text_of(rep, "")
    assert "no Monte Carlo error" in text_of(rep, "")
    assert "simulated trials" not in text_of(rep, "")
    assert "MCSE" not in text_of(rep, "Plots")


def test_scenarios_section(mc_report: tuple[str, Report]) -> None:
    _, rep = mc_report
    header, rows = rep.table("Scenarios")
    assert header[:2] == ["theta", "label"]
    assert [r[1] for r in rows] == GRID.labels
    assert [float(r[0]) for r in rows] == GRID.table["theta"].tolist()


def test_design_and_provenance_sections(mc_report: tuple[str, Report], mc_result: OCResult) -> None:
    _, rep = mc_report
    design = text_of(rep, "Design")
    assert "OneArmDesign" in design
    assert "prior" in design
    assert "table" in rep.tags_in["Design"]
    prov = text_of(rep, "Provenance")
    assert '"n_trials": 800' in prov
    assert "rdstats reproduce" in prov
    assert mc_result.provenance["seed"]["entropy"] in prov
    assert "800 simulated trials per scenario" in text_of(rep, "")


# -------------------------------------------------------------------------- escaping
def test_labels_are_escaped(mc_report: tuple[str, Report]) -> None:
    text, rep = mc_report
    assert NASTY not in text  # never raw markup
    assert "&lt;b&gt;&amp;" in text
    # <b> appears only where the report itself puts it (prior names in Design)
    for section in ("Scenarios", "Operating characteristics", "Provenance"):
        assert "b" not in rep.tags_in[section], section
    assert NASTY in [r[1] for r in rep.table("Scenarios")[1]]
    assert NASTY in [r[0] for r in _oc_table(rep)[1]]


def test_title_and_description_escaped(tmp_path: Path) -> None:
    spec = SimulationSpec(
        ONE_ARM,
        ScenarioGrid.cartesian(theta=[0.2, 0.4]),
        n_trials=200,
        seed=1,
        title="<script>alert('x')</script> & co",
        description='p < 0.05 & "quoted" <i>text</i>',
    )
    res = spec.run(progress=False)
    text = oc_report_html(res)
    rep = Report(text)
    assert rep.errors == []
    assert "<script" not in text and "<i>" not in text
    assert rep.title == "<script>alert('x')</script> & co"
    assert 'p < 0.05 & "quoted" <i>text</i>' in text_of(rep, "")
    assert "script" not in [t for t, _ in rep.tags]
    # an explicit title wins over the specification's
    assert Report(oc_report_html(res, title="A & B")).title == "A & B"


# ------------------------------------------------------------------------ write_report
def test_write_report_result_or_directory(mc_result: OCResult, tmp_path: Path) -> None:
    from_result = write_report(mc_result, tmp_path / "a.html")
    assert from_result == tmp_path / "a.html"
    directory = mc_result.save(tmp_path / "saved")
    from_dir = write_report(directory, tmp_path / "b.html")
    from_str = write_report(str(directory), tmp_path / "c.html")
    a, b, c = (p.read_text() for p in (from_result, from_dir, from_str))
    assert b == c
    for text in (a, b):
        rep = Report(text)
        assert rep.errors == []
        assert rep.sections == SECTIONS
    # the same tables whether the result is in memory or read back from its files
    ra, rb = Report(a), Report(b)
    for section in ("Scenarios", "Operating characteristics"):
        assert ra.table(section) == rb.table(section)


def test_write_report_incomplete_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"provenance\.json"):
        write_report(tmp_path, tmp_path / "report.html")
    assert not (tmp_path / "report.html").exists()


def test_exact_two_arm_report(tmp_path: Path) -> None:
    design = TwoArmDesign(
        NormalMixture(1, 0, 2, sigma=1.0), 12, NormalMixture(1, 0, 2, sigma=1.0), 12,
        DecisionRule(0.9, 0.0),
    )  # fmt: skip
    grid = ScenarioGrid.cartesian(theta_1=[0.0, 0.5, 1.0], theta_2=[0.0, 0.3])
    res = operating_characteristics(design, grid, method="exact", progress=False)
    path = write_report(res, tmp_path / "exact.html")
    rep = Report(path.read_text())
    assert rep.errors == []
    assert rep.sections == SECTIONS
    assert rep.images()
    header, rows = _oc_table(rep)
    assert len(rows) == 6
    assert not any("±" in cell for row in rows for cell in row)
    assert "TwoArmDesign" in text_of(rep, "Design")
    # the saved exact result reports the same
    saved = res.save(tmp_path / "saved")
    again = Report(write_report(saved, tmp_path / "again.html").read_text())
    assert again.table("Operating characteristics") == (header, [*rows])


# ------------------------------------------------------- a design not in the registry
@dataclass(frozen=True)
class CountDesign:
    """Minimal design (not registered for specification files): success if y >= r."""

    n: int = 10
    r: int = 4
    _parameters: ClassVar[tuple[str, ...]] = ("theta",)

    def to_dict(self) -> dict[str, Any]:
        return {"design": "CountDesign", "n": self.n, "r": self.r}

    def _truth(self, params: Mapping[str, float]) -> float:
        return float(params["theta"])

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        y = rng.binomial(self.n, params["theta"], size)
        return {"success": y >= self.r, "y": y, "estimate": y / self.n}


def test_report_of_unregistered_design(tmp_path: Path) -> None:
    res = operating_characteristics(
        CountDesign(), {"theta": [0.2, 0.5]}, n_trials=300, rng=2, progress=False
    )
    saved = res.save(tmp_path / "saved")
    loaded = OCResult.load(saved)
    assert loaded.design is None
    for result in (res, saved):
        rep = Report(write_report(result, tmp_path / "r.html").read_text())
        assert rep.errors == []
        assert rep.sections == SECTIONS
        assert "CountDesign" in text_of(rep, "Design")
        assert rep.images()

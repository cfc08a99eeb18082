"""End-to-end tests of the ``rdstats`` command: simulate, report, reproduce, demo.

Most tests call :func:`rdstats.cli.main` in-process (it returns the exit status); one runs
the installed console script to check the entry point, and the interruption test kills a
simulation running in a subprocess.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rdstats.cli import main
from rdstats.simulate import OCResult, SimulationSpec

ROOT = Path(__file__).resolve().parents[2]
POISSON = ROOT / "simulations" / "two_arm_poisson.toml"
TRIALS, BATCH = 2000, 500  # 4 batches per scenario, 5 scenarios
SIZE_ARGS = ("--trials", str(TRIALS), "--batch-size", str(BATCH))
RESULT_FILES = ("spec.toml", "metrics.parquet", "outcomes.parquet", "provenance.json")


def rdstats(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    """Run ``rdstats ARGV`` in-process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def simulate(
    capsys: pytest.CaptureFixture[str], out: Path, *extra: Any, spec: Path = POISSON
) -> tuple[int, str, str]:
    args = ["simulate", spec, "--out", out, "--no-progress"]
    if "--method" not in extra:
        args += SIZE_ARGS
    return rdstats(capsys, *args, *extra)


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("rdstats")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rdstats"]


def batch_files(directory: Path) -> list[Path]:
    return sorted((directory / "store" / "batches").glob("*/*.parquet"))


def assert_same_files(a: Path, b: Path, names: tuple[str, ...]) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def provenance(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "provenance.json").read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A completed serial run of the Poisson example (read-only: copy before changing)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    code = main(["simulate", str(POISSON), "--out", str(out), *SIZE_ARGS, "--no-progress"])
    assert code == 0
    return out


@pytest.fixture
def run_dir(reference: Path, tmp_path: Path) -> Path:
    """A private copy of the reference run."""
    return Path(shutil.copytree(reference, tmp_path / "run"))


# --------------------------------------------------------------------------- simulate
def test_simulate_writes_result_directory(reference: Path) -> None:
    for name in RESULT_FILES:
        assert (reference / name).is_file(), name
    assert (reference / "store").is_dir()
    assert len(batch_files(reference)) == 5 * TRIALS // BATCH
    spec = SimulationSpec.read(reference / "spec.toml")
    original = SimulationSpec.read(POISSON)
    assert spec == original.with_settings(n_trials=TRIALS, batch_size=BATCH)
    prov = provenance(reference)
    assert prov["n_trials"] == TRIALS
    assert prov["batch_size"] == BATCH
    assert prov["method"] == "monte_carlo"
    assert prov["executor"] == "serial"
    assert prov["seed"]["entropy"] == str(original.seed)
    assert prov["spec"] == spec.to_dict()
    res = OCResult.load(reference)
    assert len(res.outcomes) == 5 * TRIALS
    assert res.scenarios.labels == original.scenarios.labels
    p = res.summary(wide=True)["p_success"].to_numpy()
    exact = original.design.oc(
        original.scenarios.table["theta_1"].to_numpy(),
        original.scenarios.table["theta_2"].to_numpy(),
    )
    mcse = res.summary(wide=True)["p_success_mcse"].to_numpy()
    assert np.all(np.abs(p - exact) <= 4 * mcse)


def test_simulate_prints_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = simulate(capsys, tmp_path / "d")
    assert code == 0, err
    assert "p_success" in out and "no effect" in out
    assert "results written to" in out
    assert "rdstats report" in out and "rdstats reproduce" in out


def test_console_script_entry_point(reference: Path, tmp_path: Path) -> None:
    """The installed ``rdstats`` command gives the same files as ``main()`` in-process."""
    out = tmp_path / "cli"
    proc = subprocess.run(
        [
            *console_script(),
            "simulate",
            str(POISSON),
            "--out",
            str(out),
            *SIZE_ARGS,
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "results written to" in proc.stdout
    assert_same_files(out, reference, ("metrics.parquet", "outcomes.parquet", "spec.toml"))


def test_overrides_recorded(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "d"
    code, _, err = rdstats(
        capsys, "simulate", POISSON, "--out", out, "--seed", 11, "--trials", 1500,
        "--batch-size", 300, "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    prov = provenance(out)
    assert prov["seed"]["entropy"] == "11"
    assert prov["n_trials"] == 1500
    assert prov["batch_size"] == 300
    assert prov["spec"]["simulation"]["seed"] == 11
    assert prov["spec"]["simulation"]["n_trials"] == 1500
    spec = SimulationSpec.read(out / "spec.toml")
    assert (spec.seed, spec.n_trials, spec.batch_size) == (11, 1500, 300)
    assert len(pd.read_parquet(out / "outcomes.parquet")) == 5 * 1500
    code, stdout, _ = rdstats(capsys, "reproduce", out)
    assert code == 0
    assert stdout.startswith("IDENTICAL")


def test_seed_changes_numbers(
    capsys: pytest.CaptureFixture[str], reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "d"
    assert simulate(capsys, out, "--seed", 8)[0] == 0
    a = pd.read_parquet(out / "outcomes.parquet")
    b = pd.read_parquet(reference / "outcomes.parquet")
    assert not a["y1"].equals(b["y1"])


def test_workers_identical_to_serial(
    capsys: pytest.CaptureFixture[str], reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "w2"
    code, _, err = simulate(capsys, out, "--workers", "2")
    assert code == 0, err
    assert "ProcessPool" in provenance(out)["executor"]
    assert_same_files(out, reference, ("metrics.parquet", "outcomes.parquet"))
    assert OCResult.load(out).compare(OCResult.load(reference)) == []


def test_method_exact(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "exact"
    code, stdout, err = simulate(capsys, out, "--method", "exact")
    assert code == 0, err
    assert (out / "metrics.parquet").is_file()
    assert (out / "provenance.json").is_file()
    assert not (out / "outcomes.parquet").exists()
    assert not (out / "store").exists()
    assert "enumerated_mass" in stdout
    assert SimulationSpec.read(out / "spec.toml").method == "exact"
    res = OCResult.load(out)
    assert res.method == "exact"
    assert res.outcomes is None
    spec = SimulationSpec.read(POISSON)
    table = spec.scenarios.table
    exact = spec.design.oc(table["theta_1"].to_numpy(), table["theta_2"].to_numpy())
    wide = res.summary(wide=True)
    np.testing.assert_allclose(wide["p_success"], exact, rtol=0, atol=1e-12)
    assert (wide["p_success_mcse"] == 0).all()
    code, stdout, _ = rdstats(capsys, "reproduce", out)
    assert code == 0
    assert stdout.startswith("IDENTICAL")
    code, _, err = rdstats(capsys, "report", out)
    assert code == 0, err
    assert (out / "report.html").is_file()


def test_rerun_resumes_from_store(
    capsys: pytest.CaptureFixture[str], run_dir: Path, reference: Path
) -> None:
    before = {f: f.stat().st_mtime_ns for f in batch_files(run_dir)}
    code, _, err = simulate(capsys, run_dir)
    assert code == 0, err
    after = {f: f.stat().st_mtime_ns for f in batch_files(run_dir)}
    assert after == before  # every batch was read back, none simulated again
    assert_same_files(run_dir, reference, ("metrics.parquet", "outcomes.parquet"))
    assert OCResult.load(run_dir).compare(OCResult.load(reference)) == []


def test_rerun_with_more_trials_extends(
    capsys: pytest.CaptureFixture[str], run_dir: Path, tmp_path: Path
) -> None:
    before = {f: f.stat().st_mtime_ns for f in batch_files(run_dir)}
    assert simulate(capsys, run_dir, "--trials", 3000)[0] == 0
    after = {f: f.stat().st_mtime_ns for f in batch_files(run_dir)}
    assert {f: after[f] for f in before} == before
    assert len(after) == 5 * 3000 // BATCH
    fresh = tmp_path / "fresh"
    assert simulate(capsys, fresh, "--trials", 3000)[0] == 0
    assert_same_files(run_dir, fresh, ("metrics.parquet", "outcomes.parquet"))


def test_spec_without_seed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Fresh entropy is recorded: reproduce and a re-run into the same DIR both use it."""
    text = POISSON.read_text().replace("seed = 7\n", "")
    spec = tmp_path / "noseed.toml"
    spec.write_text(text)
    assert SimulationSpec.read(spec).seed is None
    out = tmp_path / "d"
    code, _, err = simulate(capsys, out, spec=spec)
    assert code == 0, err
    entropy = provenance(out)["seed"]["entropy"]
    assert int(entropy) > 2**64  # fresh entropy from the OS, recorded
    first = (out / "outcomes.parquet").read_bytes()
    code, stdout, _ = rdstats(capsys, "reproduce", out)
    assert code == 0
    assert stdout.startswith("IDENTICAL")
    code, _, err = simulate(capsys, out, spec=spec)  # resumes with the recorded seed
    assert code == 0, err
    assert provenance(out)["seed"]["entropy"] == entropy
    assert (out / "outcomes.parquet").read_bytes() == first


def test_rerun_with_other_seed_keeps_result(
    capsys: pytest.CaptureFixture[str], run_dir: Path
) -> None:
    spec_before = (run_dir / "spec.toml").read_text()
    code, _, err = simulate(capsys, run_dir, "--seed", 99)
    assert code == 2
    assert "different simulation" in err
    assert (run_dir / "spec.toml").read_text() == spec_before
    assert (run_dir / "provenance.json").exists()
    assert rdstats(capsys, "report", run_dir)[0] == 0


def test_exact_over_monte_carlo_dir(capsys: pytest.CaptureFixture[str], run_dir: Path) -> None:
    code, _, err = simulate(capsys, run_dir, "--method", "exact")
    assert code == 0, err
    assert OCResult.load(run_dir).outcomes is None
    code, stdout, _ = rdstats(capsys, "reproduce", run_dir)
    assert code == 0, stdout


# ---------------------------------------------------------------- report, reproduce
def test_report(capsys: pytest.CaptureFixture[str], run_dir: Path, tmp_path: Path) -> None:
    code, stdout, err = rdstats(capsys, "report", run_dir)
    assert code == 0, err
    html = (run_dir / "report.html").read_text()
    assert "report written to" in stdout
    assert html.startswith("<!DOCTYPE html>")
    assert "Two-arm, event-rate endpoint (Poisson)" in html
    assert "data:image/png;base64," in html
    other = tmp_path / "elsewhere.html"
    code, _, _ = rdstats(capsys, "report", run_dir, "--out", other)
    assert code == 0
    assert other.read_text() == html


def test_reproduce_identical(capsys: pytest.CaptureFixture[str], reference: Path) -> None:
    before = {p.name: p.read_bytes() for p in reference.iterdir() if p.is_file()}
    code, stdout, err = rdstats(capsys, "reproduce", reference)
    assert code == 0, err
    assert stdout.startswith("IDENTICAL")
    assert "NOT IDENTICAL" not in stdout
    n_values = pd.read_parquet(reference / "outcomes.parquet").size
    assert f"{n_values} outcome values" in stdout
    after = {p.name: p.read_bytes() for p in reference.iterdir() if p.is_file()}
    assert after == before  # reproduce only reads


def test_reproduce_detects_tampered_outcome(
    capsys: pytest.CaptureFixture[str], run_dir: Path
) -> None:
    outcomes = pd.read_parquet(run_dir / "outcomes.parquet")
    outcomes.loc[1234, "y1"] += 1  # one event more in one simulated trial
    outcomes.to_parquet(run_dir / "outcomes.parquet", index=False)
    code, stdout, _ = rdstats(capsys, "reproduce", run_dir)
    assert code == 1
    assert stdout.startswith("NOT IDENTICAL")
    assert "'y1'" in stdout
    assert "metrics" not in stdout


def test_reproduce_detects_tampered_metric(
    capsys: pytest.CaptureFixture[str], run_dir: Path
) -> None:
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    row = metrics.index[metrics["metric"] == "p_success"][0]
    metrics.loc[row, "value"] = np.nextafter(metrics.loc[row, "value"], 1.0)  # one ulp
    metrics.to_parquet(run_dir / "metrics.parquet", index=False)
    code, stdout, _ = rdstats(capsys, "reproduce", run_dir)
    assert code == 1
    assert "NOT IDENTICAL" in stdout
    assert "metrics differ" in stdout


@pytest.mark.parametrize("command", ["report", "reproduce"])
def test_report_on_empty_or_missing_dir(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, stdout, err = rdstats(capsys, command, empty)
    assert code == 2
    assert stdout == ""
    assert f"rdstats {command}: error:" in err and "holds no simulation result" in err
    assert list(empty.iterdir()) == []
    missing = tmp_path / "missing"
    code, _, err = rdstats(capsys, command, missing)
    assert code == 2
    assert "is not a directory" in err
    assert not missing.exists()
    code, _, err = rdstats(capsys, command, POISSON)  # a file, not a directory
    assert code == 2
    assert "is not a directory" in err


# ------------------------------------------------------------------------ interruption
def test_interrupted_run_resumes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trials, batch = 40_000, 500  # 80 batches per scenario, 400 in all (a few seconds)
    out = tmp_path / "interrupted"
    args = ["--trials", str(trials), "--batch-size", str(batch), "--no-progress"]
    proc = subprocess.Popen(
        [*console_script(), "simulate", str(POISSON), "--out", str(out), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        while not batch_files(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, "the simulation finished before it could be interrupted"
        assert batch_files(out), "no batch was written within 60 s"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    done = len(batch_files(out))
    assert 1 <= done < 400
    assert not (out / "provenance.json").exists()

    code, stdout, err = rdstats(capsys, "report", out)
    assert code == 2
    assert stdout == ""
    assert "incomplete" in err
    m = re.search(r"(\d+) of (\d+) batches", err)
    assert m is not None, err
    assert (int(m.group(1)), int(m.group(2))) == (done, 400)
    assert f"rdstats simulate {out / 'spec.toml'} --out {out}" in err
    assert not (out / "report.html").exists()
    code, _, err = rdstats(capsys, "reproduce", out)
    assert code == 2
    assert "incomplete" in err

    # resume: the batches already written are kept, the rest simulated
    kept = {f: f.stat().st_mtime_ns for f in batch_files(out)}
    code, _, err = rdstats(capsys, "simulate", out / "spec.toml", "--out", out, *args)
    assert code == 0, err
    after = {f: f.stat().st_mtime_ns for f in batch_files(out)}
    assert len(after) == 400
    assert {f: after[f] for f in kept} == kept

    fresh = tmp_path / "uninterrupted"
    code, _, err = rdstats(capsys, "simulate", POISSON, "--out", fresh, *args)
    assert code == 0, err
    assert_same_files(out, fresh, ("metrics.parquet", "outcomes.parquet"))
    assert OCResult.load(out).compare(OCResult.load(fresh)) == []
    code, _, _ = rdstats(capsys, "report", out)
    assert code == 0


# ----------------------------------------------------------------------------- errors
def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BAD_SPEC = POISSON.read_text().replace(
    "weights = [1.0], shape = [0.5]", "wieghts = [1.0], shape = [0.5]"
)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing-spec", "does not exist"),
        ("malformed-spec", "malformed TOML"),
        ("unknown-key", "wieghts"),
        ("workers-0", "--workers must be a positive integer"),
        ("trials-0", "n_trials must be a positive integer"),
        ("seed-negative", "seed must be a non-negative integer"),
        ("batch-size-0", "batch_size must be a positive integer"),
    ],
)
def test_simulate_errors_write_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str, expected: str
) -> None:
    spec, extra = POISSON, []
    if case == "missing-spec":
        spec = tmp_path / "nothere.toml"
    elif case == "malformed-spec":
        spec = _write(tmp_path / "bad.toml", "[design\ntype = 'OneArmDesign'\n")
    elif case == "unknown-key":
        spec = _write(tmp_path / "bad.toml", BAD_SPEC)
    else:
        option, value = {
            "workers-0": ("--workers", 0),
            "trials-0": ("--trials", 0),
            "seed-negative": ("--seed", -1),
            "batch-size-0": ("--batch-size", 0),
        }[case]
        extra = [option, value]
    out = tmp_path / "out"
    code, stdout, err = rdstats(capsys, "simulate", spec, "--out", out, "--no-progress", *extra)
    assert code == 2
    assert stdout == ""
    assert err.startswith("rdstats simulate: error:")
    assert expected in err
    assert "Traceback" not in err
    assert not out.exists()


def test_simulate_out_is_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = _write(tmp_path / "results.txt", "keep me\n")
    code, stdout, err = rdstats(capsys, "simulate", POISSON, "--out", target, "--no-progress")
    assert code == 2
    assert stdout == ""
    assert "exists and is not a directory" in err
    assert target.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.txt"]


def test_bad_option_values_rejected_by_parser(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    for extra in (["--method", "bayes"], ["--workers", "2", "--scheduler", "tcp://x:1"]):
        with pytest.raises(SystemExit) as info:
            main(["simulate", str(POISSON), "--out", str(out), *extra])
        assert info.value.code == 2
        assert "error" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_unreachable_scheduler_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    start = time.monotonic()
    code, stdout, err = rdstats(
        capsys, "simulate", POISSON, "--out", out, "--scheduler", "tcp://127.0.0.1:1",
        "--no-progress",
    )  # fmt: skip
    assert time.monotonic() - start < 60
    assert code == 2
    assert stdout == ""
    assert "cannot reach the Dask scheduler" in err
    assert "tcp://127.0.0.1:1" in err
    assert not out.exists()


def test_scenarios_not_fitting_design_write_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = _write(
        tmp_path / "neg.toml",
        POISSON.read_text().replace("theta_1 = [2.0,", "theta_1 = [-2.0,"),
    )
    out = tmp_path / "out"
    code, _, err = rdstats(capsys, "simulate", spec, "--out", out, "--no-progress")
    assert code == 2
    assert "theta_1" in err
    assert not out.exists()


# ------------------------------------------------------------------------------- demo
def test_demo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "demo"
    code, stdout, err = rdstats(capsys, "demo", "--out", out, "--trials", 1000)
    assert code == 0, err
    for name in ("report.html", "provenance.json", "spec.toml", "metrics.parquet"):
        assert (out / name).is_file(), name
    assert "within 2 MCSE" in stdout
    prov = provenance(out)
    assert prov["n_trials"] == 1000
    html = (out / "report.html").read_text()
    assert "rdstats demo" in html
    code, stdout, _ = rdstats(capsys, "reproduce", out)
    assert code == 0
    assert stdout.startswith("IDENTICAL")

"""Package-level checks: import boundaries and the demo."""

import subprocess
import sys


def test_import_is_light() -> None:
    code = (
        "import sys, rdstats, rdstats.priors, rdstats.designs, rdstats.simulate, rdstats.cli, "
        "rdstats.borrowing, rdstats.datasets; "
        "heavy = [m for m in ('pymc', 'matplotlib', 'lifelines', 'dask') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_demo_runs(tmp_path, capsys) -> None:
    from rdstats.cli import main

    assert main(["demo", "--out", str(tmp_path / "demo"), "--trials", "2000"]) == 0
    out = capsys.readouterr().out
    assert "Probability of success" in out
    assert (tmp_path / "demo" / "report.html").exists()
    assert (tmp_path / "demo" / "provenance.json").exists()
    assert main(["reproduce", str(tmp_path / "demo")]) == 0
    assert "IDENTICAL" in capsys.readouterr().out

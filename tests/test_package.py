"""Package-level checks: import boundaries and the demo."""

import subprocess
import sys


def test_import_is_light() -> None:
    code = (
        "import sys, rdstats, rdstats.priors, rdstats.designs; "
        "heavy = [m for m in ('pymc', 'matplotlib', 'lifelines', 'dask') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_demo_runs(capsys) -> None:
    from rdstats.demo import main

    main()
    out = capsys.readouterr().out
    assert "Exact probability of a positive decision" in out

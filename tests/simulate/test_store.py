"""Checkpoint store: completed batches are reused, a killed run resumes, mismatches raise."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from _slow_design import CALLS, CountingDesign, SlowDesign

from rdstats.designs import DecisionRule, OneArmDesign
from rdstats.priors import BetaMixture
from rdstats.simulate import ScenarioGrid, operating_characteristics
from rdstats.simulate._store import Store, StoreMismatchError, store_status

HERE = Path(__file__).resolve().parent
INNER = OneArmDesign(BetaMixture(1, 1, 1), 20, DecisionRule(0.9, 0.2))
GRID = ScenarioGrid.cartesian(theta=[0.2, 0.35])
SEED = 314159


def run(design, store=None, grid=GRID, **kw):
    kw.setdefault("n_trials", 1000)
    kw.setdefault("batch_size", 250)
    kw.setdefault("rng", SEED)
    return operating_characteristics(design, grid, store=store, progress=False, **kw)


def batch_files(store: Path) -> list[Path]:
    return sorted(store.glob("batches/*/*.parquet"))


@pytest.fixture
def counting(request):
    name = request.node.name
    CALLS[name] = 0
    return CountingDesign(INNER, name)


# -- reuse --------------------------------------------------------------------------------------
def test_rerun_reuses_every_batch(tmp_path, counting):
    store = tmp_path / "store"
    first = run(counting, store)
    assert CALLS[counting.name] == 8  # 2 scenarios x 4 batches
    assert len(batch_files(store)) == 8
    assert (store / "manifest.json").exists() and (store / "run.json").exists()
    second = run(counting, store)
    assert CALLS[counting.name] == 8  # nothing simulated again
    assert second.compare(first) == []
    assert run(counting).compare(first) == []  # and equal to a run without a store
    assert store_status(store) == (8, 8)


def test_rerun_with_executor_reuses_batches(tmp_path, counting):
    store = tmp_path / "store"
    first = run(counting, store)
    failing = CountingDesign(INNER, counting.name, fail=True)  # same specification
    again = run(failing, store, backend="processes", workers=2)
    assert again.compare(first) == []  # no worker simulated a batch


def test_added_scenario_reuses_existing_batches(tmp_path, counting):
    store = tmp_path / "store"
    run(counting, store)
    bigger = GRID + ScenarioGrid({"theta": [0.5]})
    res = run(counting, store, grid=bigger)
    assert CALLS[counting.name] == 8 + 4  # only the new scenario's batches
    assert res.compare(run(INNER, grid=bigger)) == []
    assert store_status(store) == (12, 12)


def test_longer_run_reuses_full_batches(tmp_path, counting):
    store = tmp_path / "store"
    run(counting, store, n_trials=1000)
    res = run(counting, store, n_trials=1500)
    assert CALLS[counting.name] == 8 + 2 * 2
    assert res.compare(run(INNER, n_trials=1500)) == []


def test_partial_last_batch_is_recomputed_at_full_size(tmp_path, counting):
    store = tmp_path / "store"
    short = run(counting, store, n_trials=1100)  # batches 250, 250, 250, 250, 100
    assert CALLS[counting.name] == 10
    longer = run(counting, store, n_trials=1250)  # batch 4 now has 250 trials
    assert CALLS[counting.name] == 12
    assert longer.compare(run(INNER, n_trials=1250)) == []
    assert run(counting, store, n_trials=1100).compare(short) == []


def test_corrupt_batch_is_recomputed(tmp_path, counting):
    store = tmp_path / "store"
    first = run(counting, store)
    files = batch_files(store)
    files[3].write_bytes(b"not a parquet file")
    files[5].write_bytes(files[5].read_bytes()[:40])  # truncated
    again = run(counting, store)
    assert CALLS[counting.name] == 8 + 2
    assert again.compare(first) == []
    # the recomputed batches were written back and are readable now
    assert run(counting, store).compare(first) == []
    assert CALLS[counting.name] == 10


def test_batch_with_wrong_length_is_recomputed(tmp_path, counting):
    store = tmp_path / "store"
    first = run(counting, store)
    import pandas as pd

    f = batch_files(store)[0]
    pd.read_parquet(f).iloc[:10].to_parquet(f, index=False)
    assert run(counting, store).compare(first) == []
    assert CALLS[counting.name] == 9


# -- mismatch -------------------------------------------------------------------------------------
def test_different_seed_raises(tmp_path):
    store = tmp_path / "store"
    run(INNER, store)
    with pytest.raises(StoreMismatchError, match="seed"):
        run(INNER, store, rng=SEED + 1)
    assert issubclass(StoreMismatchError, ValueError)


def test_different_design_raises(tmp_path):
    store = tmp_path / "store"
    run(INNER, store)
    other = OneArmDesign(BetaMixture(1, 1, 1), 20, DecisionRule(0.95, 0.2))
    with pytest.raises(ValueError, match=r"different simulation.*design"):
        run(other, store)
    with pytest.raises(StoreMismatchError, match="batch_size"):
        run(INNER, store, batch_size=500)


def test_mismatch_leaves_store_untouched(tmp_path):
    store = tmp_path / "store"
    run(INNER, store)
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    with pytest.raises(StoreMismatchError):
        run(INNER, store, rng=1, n_trials=2000)
    after = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    assert before == after


def test_rng_none_cannot_resume(tmp_path):
    store = tmp_path / "store"
    res = run(INNER, store, rng=None)
    with pytest.raises(StoreMismatchError):
        run(INNER, store, rng=None)
    from rdstats.simulate._streams import seed_from_record

    again = run(INNER, store, rng=seed_from_record(res.provenance["seed"]))
    assert again.compare(res) == []


# -- store_status -------------------------------------------------------------------------------
def test_store_status(tmp_path):
    store = tmp_path / "store"
    assert store_status(store) is None
    run(INNER, store)
    assert store_status(store) == (8, 8)
    batch_files(store)[0].unlink()
    assert store_status(store) == (7, 8)
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["batch_size"] == 250
    assert manifest["seed"] == {"entropy": str(SEED), "spawn_key": []}
    assert Store(store).count() == 7


# -- kill and resume ------------------------------------------------------------------------------
KILL_GRID = {"theta": [0.3, 0.5]}
KILL_N, KILL_BATCH = 5000, 50  # 100 batches per scenario, 200 in all (10 s at 0.05 s each)

SCRIPT = textwrap.dedent(
    """
    import sys
    from _slow_design import SlowDesign
    from rdstats.simulate import operating_characteristics

    operating_characteristics(
        SlowDesign(delay=0.05), {grid!r}, n_trials={n}, batch_size={b}, rng={seed},
        store=sys.argv[1], progress=False,
    )
    print("finished")
    """
)


@pytest.mark.slow
def test_killed_run_resumes_identically(tmp_path):
    store = tmp_path / "killed"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    script = SCRIPT.format(grid=KILL_GRID, n=KILL_N, b=KILL_BATCH, seed=SEED)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(store)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while len(batch_files(store)) < 3:
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"simulation subprocess ended early: {out!r} {err!r}")
            if time.monotonic() > deadline:
                pytest.fail("no batch files after 60 s")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    total = 2 * KILL_N // KILL_BATCH
    done = len(batch_files(store))
    assert 3 <= done < total, (done, total)
    assert store_status(store) == (done, total)
    # every file counted as a batch is complete (written under a temporary name, renamed)
    import pandas as pd

    for f in batch_files(store):
        assert len(pd.read_parquet(f)) == KILL_BATCH
    assert not list(store.glob("*.tmp"))

    CALLS["SlowDesign"] = 0
    fast = SlowDesign(delay=0.0)  # same specification, so the store matches
    resumed = operating_characteristics(
        fast,
        KILL_GRID,
        n_trials=KILL_N,
        batch_size=KILL_BATCH,
        rng=SEED,
        store=store,
        progress=False,
    )
    assert CALLS["SlowDesign"] == total - done
    assert store_status(store) == (total, total)
    assert not list(store.glob("batches/*/*.tmp"))
    fresh = operating_characteristics(
        fast,
        KILL_GRID,
        n_trials=KILL_N,
        batch_size=KILL_BATCH,
        rng=SEED,
        store=tmp_path / "fresh",
        progress=False,
    )
    assert resumed.compare(fresh) == []
    plain = operating_characteristics(
        fast, KILL_GRID, n_trials=KILL_N, batch_size=KILL_BATCH, rng=SEED, progress=False
    )
    assert resumed.compare(plain) == []
    assert np.array_equal(resumed.outcomes["y"].to_numpy(), plain.outcomes["y"].to_numpy())


def test_leftover_tmp_file_is_not_a_batch(tmp_path, counting):
    store = tmp_path / "store"
    first = run(counting, store)
    f = batch_files(store)[2]
    tmp = f.with_suffix(".tmp")
    f.rename(tmp)  # as if killed between writing and renaming
    assert store_status(store) == (7, 8)
    assert run(counting, store).compare(first) == []
    assert CALLS[counting.name] == 9
    assert f.exists()

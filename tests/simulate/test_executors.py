"""Executor helpers: grouping batches into tasks, and the simulation LocalCluster."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rdstats.simulate import local_cluster
from rdstats.simulate._executors import group_jobs


@given(n_jobs=st.integers(0, 500), workers=st.integers(1, 16), per_worker=st.integers(1, 8))
def test_group_jobs_partitions_in_order(n_jobs, workers, per_worker):
    jobs = list(range(n_jobs))
    groups = group_jobs(jobs, workers, per_worker)
    assert [j for g in groups for j in g] == jobs  # every job once, order kept
    assert all(groups) or not jobs
    assert len(groups) <= max(1, workers * per_worker)
    if groups:  # balanced: sizes differ by at most one
        sizes = [len(g) for g in groups]
        assert max(sizes) - min(sizes) <= 1


def test_local_cluster_workers_without_malloc_trim():
    distributed = pytest.importorskip("distributed")
    before = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    with local_cluster(1) as cluster, distributed.Client(cluster) as client:
        env = client.run(
            lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS"))
        )
        info = client.scheduler_info()["workers"]
    assert len(info) == 1
    assert all(v[0] is None for v in env.values())  # dropped
    assert all(v[1] == "1" for v in env.values())  # thread caps kept
    assert os.environ.get("MALLOC_TRIM_THRESHOLD_") == before  # caller's environment restored


def test_local_cluster_bad_workers():
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="workers must be a positive integer, got 0"):
        local_cluster(0)

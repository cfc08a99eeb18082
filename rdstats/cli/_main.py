"""The ``rdstats`` command: simulate, report, reproduce, demo."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

_SPEC_FILE = "spec.toml"
_STORE = "store"
_REPORT = "report.html"


class CommandError(Exception):
    """A user error: printed without a traceback, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rdstats",
        description="Bayesian design and analysis of clinical trials in small populations.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("simulate", help="simulate operating characteristics from a TOML spec")
    s.add_argument("spec", help="design specification file (TOML)")
    s.add_argument("--out", required=True, help="output directory (resumes if interrupted)")
    s.add_argument("--trials", type=int, help="simulated trials per scenario (overrides spec)")
    s.add_argument("--seed", type=int, help="root seed (overrides spec)")
    s.add_argument("--batch-size", type=int, help="trials per batch (overrides spec)")
    s.add_argument("--method", choices=("monte_carlo", "exact"), help="overrides spec")
    where = s.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="local worker processes")
    where.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://...)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")

    r = sub.add_parser("report", help="write the HTML report of a simulation directory")
    r.add_argument("dir", help="directory written by 'rdstats simulate'")
    r.add_argument("--out", help=f"report file (default DIR/{_REPORT})")

    q = sub.add_parser("reproduce", help="re-run a simulation and check every number")
    q.add_argument("dir", help="directory written by 'rdstats simulate'")
    where = q.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="local worker processes")
    where.add_argument("--scheduler", help="address of a running Dask scheduler")

    d = sub.add_parser("demo", help="small end-to-end example with its report")
    d.add_argument("--out", default="rdstats-demo", help="output directory")
    d.add_argument("--trials", type=int, default=10_000, help="trials per scenario")
    return p


def _executor_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.scheduler:
        return {"backend": "dask", "address": args.scheduler}
    if args.workers is not None:
        if args.workers < 1:
            raise CommandError(f"--workers must be a positive integer, got {args.workers}")
        return {"backend": "processes", "workers": args.workers} if args.workers > 1 else {}
    return {}


def _seed_of_interrupted_run(store: Path) -> Any:
    """Seed record of an interrupted run in ``store`` (to resume a run without a seed)."""
    manifest = store / "manifest.json"
    if not manifest.exists():
        return None
    from rdstats.simulate._streams import seed_from_record

    return seed_from_record(json.loads(manifest.read_text())["seed"])


def simulate(args: argparse.Namespace) -> int:
    from rdstats.simulate import SimulationSpec

    spec = SimulationSpec.read(args.spec).with_settings(
        n_trials=args.trials, seed=args.seed, batch_size=args.batch_size, method=args.method
    )
    options = _executor_options(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {str(out)!r} exists and is not a directory")
    from rdstats.simulate._engine import store_fingerprint
    from rdstats.simulate._executors import open_executor
    from rdstats.simulate._store import Store
    from rdstats.simulate._streams import DEFAULT_BATCH_SIZE, root_seed

    store = Store(out / _STORE)
    run_options: dict[str, Any] = {}
    if spec.method == "monte_carlo":
        # a run without a seed resumes with the entropy of the interrupted run, if any
        stored = _seed_of_interrupted_run(out / _STORE) if spec.seed is None else None
        root = root_seed(spec.seed if stored is None else stored)
        store.check(store_fingerprint(spec.design, root, spec.batch_size or DEFAULT_BATCH_SIZE))
        run_options.update(rng=root, store=store.path)
    # everything is validated and the workers are reachable before anything is written
    with open_executor(
        None, options.get("backend"), options.get("workers"), options.get("address")
    ) as (executor, _):
        out.mkdir(parents=True, exist_ok=True)
        (out / "provenance.json").unlink(missing_ok=True)  # incomplete until written again
        spec.write(out / _SPEC_FILE)
        result = spec.run(progress=not args.no_progress, executor=executor, **run_options)
    result.save(out)
    print(result.summary(wide=True).to_string(float_format=lambda v: f"{v:.4f}"))
    print(f"\nresults written to {out}/ (metrics.parquet, outcomes.parquet, provenance.json)")
    print(f"report: rdstats report {out}    reproduce: rdstats reproduce {out}")
    return 0


def _incomplete_message(directory: Path) -> str:
    from rdstats.simulate._store import store_status

    status = store_status(directory / _STORE)
    detail = "" if status is None else f": {status[0]} of {status[1]} batches are done"
    return (
        f"{str(directory)!r} holds an incomplete simulation{detail}; run 'rdstats simulate "
        f"{directory / _SPEC_FILE} --out {directory}' again to resume it"
    )


def _load(directory: Path) -> Any:
    from rdstats.simulate import OCResult

    if not directory.is_dir():
        raise CommandError(f"{str(directory)!r} is not a directory")
    if not (directory / "provenance.json").exists():
        if (directory / _STORE).exists() or (directory / _SPEC_FILE).exists():
            raise CommandError(_incomplete_message(directory))
        raise CommandError(f"{str(directory)!r} holds no simulation result")
    return OCResult.load(directory)


def report(args: argparse.Namespace) -> int:
    from rdstats.reporting import write_report

    directory = Path(args.dir)
    result = _load(directory)
    path = write_report(result, args.out or directory / _REPORT)
    print(f"report written to {path}")
    return 0


def reproduce(args: argparse.Namespace) -> int:
    from rdstats.simulate import design_from_spec, operating_characteristics
    from rdstats.simulate._streams import seed_from_record

    directory = Path(args.dir)
    old = _load(directory)
    prov = old.provenance
    design = design_from_spec(prov["design"])
    options = _executor_options(args)
    if old.method == "monte_carlo":
        options.update(
            rng=seed_from_record(prov["seed"]),
            n_trials=prov["n_trials"],
            batch_size=prov["batch_size"],
        )
    new = operating_characteristics(
        design, old.scenarios, method=old.method, progress=False, **options
    )
    diffs = old.compare(new)
    if "spec" in prov:
        new.provenance["spec"] = prov["spec"]
    n_values = len(old.metrics) + (0 if old.outcomes is None else old.outcomes.size)
    if diffs:
        print(f"NOT IDENTICAL: {'; '.join(diffs)}")
        return 1
    print(
        f"IDENTICAL: all {len(old.metrics)} metrics and {n_values - len(old.metrics)} outcome "
        f"values re-computed from the recorded provenance match bit for bit "
        f"(rdstats {prov.get('rdstats')} then, {new.provenance.get('rdstats')} now)."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rdstats`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    from rdstats.cli._demo import demo

    commands = {"simulate": simulate, "report": report, "reproduce": reproduce, "demo": demo}
    try:
        return commands[args.command](args)
    except CommandError as err:
        print(f"rdstats {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, FileNotFoundError, ConnectionError) as err:
        print(f"rdstats {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"rdstats {args.command}: interrupted; completed batches are kept and a re-run resumes",
            file=sys.stderr,
        )
        return 130

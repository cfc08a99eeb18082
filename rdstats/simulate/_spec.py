"""Design specification files (TOML): designs, scenario grids and simulation settings.

A specification is human-readable and diff-able, parsed with :mod:`tomllib` (no code is
executed). Every key is checked: unknown keys and bad values raise ``ValueError`` naming
the key. Example (``simulations/two_arm_binary.toml``)::

    title = "Two-arm PoC with a robust historical control prior"

    [design]
    type = "TwoArmDesign"
    n_1 = 30
    n_2 = 15
    prior_1 = { family = "beta", weights = [1.0], a = [0.5], b = [1.0] }
    prior_2 = { family = "beta", weights = [0.6, 0.4], a = [10, 3], b = [40, 12],
                robust = { weight = 0.2, mean = 0.5 } }
    rule = { prob = [0.95, 0.5], threshold = [0.0, 0.15] }

    [scenarios.grid]
    theta_1 = [0.2, 0.3, 0.4, 0.5, 0.6]
    theta_2 = [0.2, 0.3]

    [simulation]
    n_trials = 10000
    seed = 20261122
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from rdstats.simulate._scenarios import ScenarioGrid

__all__ = ["SimulationSpec", "design_from_spec", "register_design", "spec_from_design"]

_FAMILIES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    # family: (class name, component parameters, optional scalar keys)
    "beta": ("BetaMixture", ("a", "b"), ()),
    "normal": ("NormalMixture", ("mean", "sd"), ("sigma",)),
    "gamma": ("GammaMixture", ("shape", "rate"), ("likelihood",)),
}
_ROBUST_KEYS = ("weight", "mean", "n", "sigma")
_SIMULATION_KEYS = ("n_trials", "seed", "batch_size", "method")
_TOP_KEYS = ("title", "description", "design", "scenarios", "simulation")


def _unknown(where: str, given: Mapping[str, Any], allowed: tuple[str, ...] | list[str]) -> None:
    extra = [k for k in given if k not in allowed]
    if extra:
        raise ValueError(
            f"unknown key {where + '.' if where else ''}{extra[0]!r} in the specification; "
            f"expected one of {sorted(allowed)}"
        )


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a table, got {value!r}")
    return value


def _wrap(where: str, build: Callable[[], Any]) -> Any:
    """Run a constructor; re-raise its validation error prefixed with the key path."""
    try:
        return build()
    except (ValueError, TypeError) as err:
        raise ValueError(f"{where}: {err}") from None


# -- priors and rules ------------------------------------------------------------------------
def prior_from_spec(spec: Any, where: str) -> Any:
    from rdstats import priors

    spec = _table(spec, where)
    family = spec.get("family")
    if family not in _FAMILIES:
        raise ValueError(f"{where}.family must be one of {sorted(_FAMILIES)}, got {family!r}")
    cls_name, params, optional = _FAMILIES[family]
    _unknown(where, spec, ["family", "weights", *params, *optional, "robust"])
    missing = [k for k in ("weights", *params) if k not in spec]
    if missing:
        raise ValueError(f"{where} is missing key {missing[0]!r} ({family} prior)")
    kwargs = {k: spec[k] for k in optional if k in spec}
    cls = getattr(priors, cls_name)
    prior = _wrap(where, lambda: cls(spec["weights"], *(spec[k] for k in params), **kwargs))
    if "robust" in spec:
        robust = _table(spec["robust"], f"{where}.robust")
        _unknown(f"{where}.robust", robust, _ROBUST_KEYS)
        if "weight" not in robust:
            raise ValueError(f"{where}.robust is missing key 'weight'")
        prior = _wrap(f"{where}.robust", lambda: priors.robustify(prior, **robust))
    return prior


def prior_to_spec(prior: Any) -> dict[str, Any]:
    d = prior.to_dict()
    for family, (cls_name, params, optional) in _FAMILIES.items():
        if d.get("class") == cls_name:
            out = {"family": family, "weights": d["weights"]}
            out.update({k: d[k] for k in params})
            out.update({k: d[k] for k in optional if d.get(k) is not None})
            return out
    raise TypeError(f"cannot write a {type(prior).__name__} to a specification")


def rule_from_spec(spec: Any, where: str) -> Any:
    from rdstats.designs import DecisionRule

    spec = _table(spec, where)
    _unknown(where, spec, ("prob", "threshold", "lower_tail"))
    for k in ("prob", "threshold"):
        if k not in spec:
            raise ValueError(f"{where} is missing key {k!r}")
    return _wrap(where, lambda: DecisionRule(**spec))


# -- design registry -------------------------------------------------------------------------
_Kinds = dict[str, str]  # field name -> "prior" | "rule" | "number"
_REGISTRY: dict[str, tuple[Callable[..., Any], _Kinds]] = {}


def register_design(name: str, factory: Callable[..., Any], fields: _Kinds) -> None:
    """Make a design type available to specification files.

    ``fields`` maps each constructor argument to its kind: ``"prior"`` (a mixture
    table), ``"rule"`` (a decision-rule table), ``"number"``, ``"numbers"`` (list) or
    ``"text"``. The design's ``to_dict()`` must return the same field names.
    """
    _REGISTRY[name] = (factory, dict(fields))


def _registry() -> dict[str, tuple[Callable[..., Any], _Kinds]]:
    if "OneArmDesign" not in _REGISTRY:
        from rdstats.designs import OneArmDesign, TwoArmDesign

        register_design(
            "OneArmDesign", OneArmDesign, {"prior": "prior", "n": "number", "rule": "rule"}
        )
        register_design(
            "TwoArmDesign",
            TwoArmDesign,
            {
                "prior_1": "prior",
                "n_1": "number",
                "prior_2": "prior",
                "n_2": "number",
                "rule": "rule",
            },
        )
        from rdstats.borrowing._hybrid import hybrid_from_spec

        register_design(
            "HybridControlDesign",
            hybrid_from_spec,
            {
                "n_t": "number",
                "n_c": "number",
                "control_prior": "prior",
                "prior_t": "prior",
                "rule": "rule",
                "label": "text",
                "n_grid": "number",
            },
        )
    return _REGISTRY


def design_from_spec(spec: Any, where: str = "design") -> Any:
    """Build a design from its specification table (``type`` plus its fields)."""
    spec = _table(spec, where)
    registry = _registry()
    kind = spec.get("type")
    if kind not in registry:
        raise ValueError(f"{where}.type must be one of {sorted(registry)}, got {kind!r}")
    factory, fields = registry[kind]
    _unknown(where, spec, ["type", *fields])
    kwargs: dict[str, Any] = {}
    for name, what in fields.items():
        key = f"{where}.{name}"
        if name not in spec:
            raise ValueError(f"{where} is missing key {name!r} ({kind})")
        value = spec[name]
        if what == "prior":
            kwargs[name] = prior_from_spec(value, key)
        elif what == "rule":
            kwargs[name] = rule_from_spec(value, key)
        elif what == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"{key} must be a number, got {value!r}")
        else:
            kwargs[name] = value
    return _wrap(where, lambda: factory(**kwargs))


def spec_from_design(design: Any) -> dict[str, Any]:
    """Specification table of a registered design (inverse of :func:`design_from_spec`)."""
    if not callable(getattr(design, "to_dict", None)):
        raise TypeError(f"{type(design).__name__} is not registered for specification files")
    d = design.to_dict()
    registry = _registry()
    kind = d.get("design")
    if kind not in registry:
        raise TypeError(f"{type(design).__name__} is not registered for specification files")
    out: dict[str, Any] = {"type": kind}
    for name, what in registry[kind][1].items():
        value = getattr(design, name)
        out[name] = (
            prior_to_spec(value)
            if what == "prior"
            else value.to_dict()
            if what == "rule"
            else d[name]
        )
    return out


# -- whole specification ---------------------------------------------------------------------
@dataclass(frozen=True)
class SimulationSpec:
    """A design, its scenario grid and the simulation settings (one TOML file).

    Examples
    --------
    >>> from rdstats.simulate import SimulationSpec
    >>> text = '''
    ... [design]
    ... type = "OneArmDesign"
    ... n = 20
    ... prior = { family = "beta", weights = [1.0], a = [1.0], b = [1.0] }
    ... rule = { prob = 0.9, threshold = 0.2 }
    ... [scenarios.grid]
    ... theta = [0.2, 0.4]
    ... [simulation]
    ... n_trials = 1000
    ... seed = 1
    ... '''
    >>> spec = SimulationSpec.from_toml(text)
    >>> spec.design.n, len(spec.scenarios), spec.n_trials
    (20, 2, 1000)
    >>> SimulationSpec.from_toml(spec.to_toml()) == spec
    True
    """

    design: Any
    scenarios: ScenarioGrid
    n_trials: int = 10_000
    seed: int | None = None
    batch_size: int | None = None
    method: str = "monte_carlo"
    title: str = ""
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        from rdstats.simulate._engine import check_scenarios

        _wrap("scenarios", lambda: check_scenarios(self.design, self.scenarios))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SimulationSpec) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(tomli_w.dumps(self.to_dict()))

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> SimulationSpec:
        """Build from a parsed specification (validated key by key)."""
        spec = _table(spec, "specification")
        _unknown("", spec, _TOP_KEYS)
        for k in ("design", "scenarios"):
            if k not in spec:
                raise ValueError(f"the specification is missing the [{k}] table")
        design = design_from_spec(spec["design"])
        scen = _table(spec["scenarios"], "scenarios")
        _unknown("scenarios", scen, ("grid", "table"))
        grid = _wrap("scenarios", lambda: ScenarioGrid.from_dict(scen))
        sim = _table(spec.get("simulation", {}), "simulation")
        _unknown("simulation", sim, _SIMULATION_KEYS)
        out = cls(
            design,
            grid,
            title=str(spec.get("title", "")),
            description=str(spec.get("description", "")),
        )
        return out.with_settings(**sim)

    def with_settings(self, **settings: Any) -> SimulationSpec:
        """Copy with simulation settings replaced (validated; ``None`` values ignored)."""
        _unknown("simulation", settings, _SIMULATION_KEYS)
        new = {k: v for k, v in settings.items() if v is not None}
        for k in ("n_trials", "batch_size"):
            v = new.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
                raise ValueError(f"simulation.{k} must be a positive integer, got {v!r}")
        seed = new.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"simulation.seed must be a non-negative integer, got {seed!r}")
        method = new.get("method", self.method)
        if method not in ("monte_carlo", "exact"):
            raise ValueError(f"simulation.method must be 'monte_carlo' or 'exact', got {method!r}")
        return replace(self, **new)

    @classmethod
    def from_toml(cls, text: str) -> SimulationSpec:
        """Parse TOML text."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"malformed TOML: {err}") from None
        return cls.from_dict(data)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> SimulationSpec:
        """Read a ``.toml`` specification file."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"specification file {str(p)!r} does not exist")
        try:
            return cls.from_toml(p.read_text())
        except ValueError as err:
            raise ValueError(f"{p}: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        """TOML-safe nested dict (no ``None`` values)."""
        sim: dict[str, Any] = {"n_trials": self.n_trials, "method": self.method}
        if self.seed is not None:
            sim["seed"] = self.seed
        if self.batch_size is not None:
            sim["batch_size"] = self.batch_size
        out: dict[str, Any] = {}
        if self.title:
            out["title"] = self.title
        if self.description:
            out["description"] = self.description
        out["design"] = spec_from_design(self.design)
        out["scenarios"] = self.scenarios.to_dict()
        out["simulation"] = sim
        return out

    def to_toml(self) -> str:
        """TOML text (round-trips through :meth:`from_toml`)."""
        return tomli_w.dumps(self.to_dict())

    def write(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        p.write_text(self.to_toml())
        return p

    def run(self, **options: Any) -> Any:
        """Run :func:`operating_characteristics` with these settings; ``options`` (rng,
        executor, backend, workers, address, store, progress, ...) are passed on."""
        from rdstats.simulate._engine import operating_characteristics

        kwargs: dict[str, Any] = {
            "n_trials": self.n_trials,
            "method": self.method,
            "rng": self.seed,
            "batch_size": self.batch_size,
        }
        kwargs.update(options)
        result = operating_characteristics(self.design, self.scenarios, **kwargs)
        result.provenance["spec"] = self.to_dict()
        return result

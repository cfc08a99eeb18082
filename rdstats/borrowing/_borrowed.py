"""Effective number of borrowed patients, and the prior ESS of (large) mixtures.

Definitions
-----------
The *prior* effective sample size (ESS) says how many patients a prior is worth before any
current data are seen. After the current trial (``n`` patients) the posterior is worth
``ESS(posterior)`` patients; of these, ``n`` are the trial's own, so

    borrowed = ESS(posterior) - n

is the effective number of patients borrowed from the historical data *after seeing the
current data* (the "effective historical sample size" of Hobbs et al. 2013). For a
conjugate prior it equals the prior ESS; for a dynamic-borrowing prior (mixture, power
prior with random a0, commensurate prior) it falls when the current data conflict with the
historical data and may even be negative: the uncertainty about how much to borrow then
makes the posterior less concentrated than the current data alone would (e.g. a normalised
power prior with 15/38 historical and 1/39 current responders borrows about -8 patients).
That is why every result of :mod:`rdstats.borrowing` reports both numbers (Wiesenfarth &
Calderazzo 2020 discuss ESS of posteriors and its data dependence).

ESS here is by default the expected local-information ratio (ELIR) of Neuenschwander et
al. (2020), :func:`rdstats.priors.ess`, whose exact decomposition takes milliseconds also
for mixtures with hundreds of components (a normalised power prior or a commensurate prior
over quadrature nodes).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._provenance import provenance as _provenance
from rdstats._validation import as_float_array
from rdstats.priors import BetaMixture, GammaMixture, Mixture, NormalMixture, ess

__all__ = [
    "EffectiveBorrowed",
    "effective_borrowed",
    "ess_with_fallback",
    "mixture_ess",
]

Array = NDArray[np.float64]
EssMethod = Literal["elir", "moment", "morita"]


def mixture_ess(dist: Mixture, method: EssMethod = "elir") -> float:
    """Prior effective sample size of a beta, normal or gamma mixture
    (:func:`rdstats.priors.ess`), with the argument named as in this package
    (``ess_method``)."""
    if not isinstance(dist, (BetaMixture, NormalMixture, GammaMixture)):
        raise TypeError(
            f"dist must be a BetaMixture, NormalMixture or GammaMixture, got {type(dist).__name__}"
        )
    if method not in ("elir", "moment", "morita"):
        raise ValueError(f"ess_method must be 'elir', 'moment' or 'morita', got {method!r}")
    try:
        return float(ess(dist, method))
    except ValueError as exc:
        if "ELIR is undefined" in str(exc):
            raise ValueError(f"{exc}; use ess_method='moment'") from None
        raise


def ess_with_fallback(dist: Mixture, method: EssMethod) -> tuple[float, EssMethod]:
    """ESS by ``method``; where the ELIR does not exist (beta components with a < 1 or
    b < 1, gamma shape < 1 with Poisson data) the moment ESS, with a warning.

    Returns the value and the method actually used.
    """
    try:
        return mixture_ess(dist, method), method
    except ValueError as exc:
        if method != "elir" or "ELIR is undefined" not in str(exc):
            raise
        warnings.warn(
            f"{exc}. The moment-based ESS is reported instead (ess_method='moment').",
            UserWarning,
            stacklevel=3,
        )
        return mixture_ess(dist, "moment"), "moment"


# -- effective number of borrowed patients -------------------------------------------------
@dataclass(frozen=True, eq=False)
class EffectiveBorrowed:
    """Prior ESS and the effective number of patients borrowed after seeing the data.

    Attributes
    ----------
    ess_prior : float
        Effective sample size of the prior.
    ess_posterior : float
        Effective sample size of the posterior.
    n_current : float
        Number of current patients (exposure for Poisson data, events for exponential data,
        ``(sigma / se)^2`` for a normal estimate given with its standard error).
    borrowed : float
        ``ess_posterior - n_current``.
    method : str
        ESS method.
    """

    ess_prior: float
    ess_posterior: float
    n_current: float
    method: str
    provenance: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def borrowed(self) -> float:
        """Effective number of borrowed patients, ``ess_posterior - n_current``."""
        return self.ess_posterior - self.n_current

    def __float__(self) -> float:
        return self.borrowed

    def summary(self) -> pd.DataFrame:
        """One-row table of the four numbers."""
        return pd.DataFrame(
            {
                "prior ESS": [self.ess_prior],
                "posterior ESS": [self.ess_posterior],
                "n current": [self.n_current],
                "borrowed": [self.borrowed],
            },
            index=[self.method],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "ess_prior": _json_float(self.ess_prior),
            "ess_posterior": _json_float(self.ess_posterior),
            "n_current": self.n_current,
            "borrowed": _json_float(self.borrowed),
            "method": self.method,
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        return "<p><b>Effective number of borrowed patients</b></p>" + self.summary().to_html()


def _json_float(v: float) -> float | str:
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf" if v < 0 else "nan")


def effective_borrowed(
    prior: Mixture, posterior: Mixture, n_current: float, method: EssMethod = "elir"
) -> EffectiveBorrowed:
    """Effective number of borrowed patients, ``ESS(posterior) - n_current``.

    Parameters
    ----------
    prior, posterior : BetaMixture, NormalMixture or GammaMixture
        The prior and the posterior after the current data (same family; a normal
        posterior needs the reference scale ``sigma`` that makes ``n`` patients).
    n_current : float
        Number of current patients (Poisson: exposure; exponential: events).
    method : {"elir", "moment", "morita"}
        ESS method (see :func:`rdstats.priors.ess`).

    Returns
    -------
    EffectiveBorrowed
        With ``ess_prior``, ``ess_posterior``, ``n_current`` and ``borrowed``; ``float()``
        of it is the number of borrowed patients.

    Notes
    -----
    For a single conjugate prior, ``borrowed`` equals the prior ESS whatever the data. For
    mixtures and other dynamic-borrowing priors it depends on the data: it is the number of
    patients the historical information is worth *after* seeing the current trial, and
    falls under prior-data conflict. It can be negative when the prior makes the posterior
    less concentrated than the likelihood alone.

    References
    ----------
    .. [1] Hobbs BP, Carlin BP, Sargent DJ. Adaptive adjustment of the randomization ratio
       using historical control data. Clinical Trials 2013;10:430-440.
    .. [2] Neuenschwander B, Weber S, Schmidli H, O'Hagan A. Predictively consistent prior
       effective sample sizes. Biometrics 2020;76:578-587.
    .. [3] Wiesenfarth M, Calderazzo S. Quantification of prior impact in terms of effective
       current sample size. Biometrics 2020;76:326-336.

    Examples
    --------
    >>> from rdstats.priors import BetaMixture
    >>> from rdstats.borrowing._borrowed import effective_borrowed
    >>> prior = BetaMixture([0.8, 0.2], a=[11, 1], b=[31, 1])
    >>> agree = effective_borrowed(prior, prior.posterior(r=7, n=25), n_current=25)
    >>> conflict = effective_borrowed(prior, prior.posterior(r=18, n=25), n_current=25)
    >>> round(agree.ess_prior, 2), round(agree.borrowed, 2), round(conflict.borrowed, 2)
    (27.19, 36.41, 0.47)
    """
    for name, d in (("prior", prior), ("posterior", posterior)):
        if not isinstance(d, (BetaMixture, NormalMixture, GammaMixture)):
            raise TypeError(
                f"{name} must be a BetaMixture, NormalMixture or GammaMixture, "
                f"got {type(d).__name__}"
            )
    if type(prior) is not type(posterior):
        raise TypeError(
            f"prior ({type(prior).__name__}) and posterior ({type(posterior).__name__}) "
            "must be of the same family"
        )
    n = float(as_float_array(n_current, "n_current"))
    if n < 0:
        raise ValueError(f"n_current must be non-negative, got {n_current!r}")
    return EffectiveBorrowed(
        ess_prior=mixture_ess(prior, method),
        ess_posterior=mixture_ess(posterior, method),
        n_current=n,
        method=method,
        provenance=_provenance({"n_current": n, "method": method}),
    )

"""Simon's (1989) two-stage designs: optimal, minimax and admissible designs by exhaustive
search, with exact operating characteristics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from rdstats._provenance import provenance
from rdstats._validation import real_number
from rdstats.designs._sequential_binary import SequentialBinaryDesign

Array = NDArray[np.float64]

__all__ = ["SimonResult", "SimonTwoStage", "simon_two_stage"]


class SimonTwoStage(SequentialBinaryDesign):
    """Simon two-stage design: stop after ``n1`` patients if at most ``r1`` respond;
    otherwise treat ``n`` in all and reject H0 (the drug is promising) if more than
    ``r`` respond.

    Examples
    --------
    >>> from rdstats.designs import SimonTwoStage
    >>> d = SimonTwoStage(r1=1, n1=10, r=5, n=29, p0=0.1)
    >>> d.oc([0.1, 0.3])[["p_reject", "pet", "en"]].round(4).to_numpy().tolist()
    [[0.0471, 0.7361, 15.0141], [0.8051, 0.1493, 26.1631]]
    """

    def __init__(self, r1: int, n1: int, r: int, n: int, p0: float | None = None) -> None:
        for name, v in (("r1", r1), ("n1", n1), ("r", r), ("n", n)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name} must be an integer, got {v!r}")
        if not 0 < n1 < n:
            raise ValueError(f"need 0 < n1 < n, got n1={n1}, n={n}")
        if not -1 <= r1 < n1:
            raise ValueError(f"r1 must be in -1..n1 - 1 = {n1 - 1}, got {r1}")
        if not r1 <= r < n:
            raise ValueError(f"r must be in r1..n - 1 = {r1}..{n - 1}, got {r}")
        super().__init__(
            looks=[int(n1), int(n)],
            futility=[int(r1), int(r)],
            efficacy=[int(n1) + 1, int(r) + 1],
            p0=p0,
            label=f"Simon {r1}/{n1}, {r}/{n}",
        )

    @property
    def r1(self) -> int:
        return int(self.futility[0])

    @property
    def n1(self) -> int:
        return int(self.looks[0])

    @property
    def r(self) -> int:
        return int(self.futility[1])

    @property
    def n(self) -> int:
        return int(self.looks[1])

    def __repr__(self) -> str:
        return f"SimonTwoStage(r1={self.r1}, n1={self.n1}, r={self.r}, n={self.n})"


@dataclass(frozen=True, eq=False)
class SimonResult:
    """Result of :func:`simon_two_stage`.

    Attributes
    ----------
    optimal, minimax : SimonTwoStage
        The design with the smallest expected sample size under p0, and the one with the
        smallest maximum sample size (ties broken by EN(p0)).
    admissible : pandas.DataFrame
        The admissible designs (Jung et al. 2004): those minimising the expected loss
        ``q n + (1 - q) EN(p0)`` for some ``q`` in [0, 1], with the range of ``q``.
    candidates : pandas.DataFrame
        For every maximum sample size n, the feasible design with the smallest EN(p0).
    """

    p0: float
    p1: float
    alpha: float
    beta: float
    optimal: SimonTwoStage
    minimax: SimonTwoStage
    admissible: pd.DataFrame
    candidates: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> pd.DataFrame:
        """Optimal and minimax designs side by side: r1/n1, r/n, EN(p0), PET(p0), attained
        alpha and power."""
        rows = []
        for name, d in (("optimal", self.optimal), ("minimax", self.minimax)):
            oc = d.oc([self.p0, self.p1])
            rows.append(
                {
                    "design": name,
                    "r1": d.r1,
                    "n1": d.n1,
                    "r": d.r,
                    "n": d.n,
                    "EN(p0)": float(oc.en[0]),
                    "PET(p0)": float(oc.pet[0]),
                    "alpha": float(oc.p_reject[0]),
                    "power": float(oc.p_reject[1]),
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "p0": self.p0,
            "p1": self.p1,
            "alpha": self.alpha,
            "beta": self.beta,
            "optimal": self.optimal.to_dict(),
            "minimax": self.minimax.to_dict(),
            "admissible": self.admissible.to_dict(orient="list"),
            "candidates": self.candidates.to_dict(orient="list"),
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        return "<p><b>Simon two-stage designs</b></p>" + self.summary().to_html(index=False)

    def plot(self, ax: Any = None) -> Any:
        """EN(p0) against the maximum sample size of the best design for each n, with the
        optimal, minimax and admissible designs marked."""
        from rdstats.plotting import axes_for

        ax = axes_for(ax, figsize=(6, 4))
        c = self.candidates
        ax.plot(c.n, c["EN(p0)"], ".", color="0.6", label="best design for each n")
        a = self.admissible
        ax.plot(a.n, a["EN(p0)"], "o-", color="C0", label="admissible")
        for name, d, col in (("optimal", self.optimal, "C2"), ("minimax", self.minimax, "C3")):
            en = float(d.oc([self.p0]).en[0])
            ax.plot([d.n], [en], "s", color=col, ms=9, label=f"{name} {d.r1}/{d.n1}, {d.r}/{d.n}")
        ax.set_xlabel("maximum sample size n")
        ax.set_ylabel("EN(p0)")
        ax.legend(fontsize=8)
        return ax


def _check_rate(value: float, name: str) -> float:
    v = real_number(value, name)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return v


def _search(p0: float, p1: float, alpha: float, beta: float, nmax: int) -> pd.DataFrame:
    """For every (n, n1, r1): the smallest r with alpha(r) <= alpha, kept if its power
    reaches 1 - beta; then per n the design with the smallest EN(p0)."""
    x_all = np.arange(nmax + 1)
    # binomial pmf of the first stage and survival function P(X2 > k) of the second,
    # tabulated once: sf[j][m, k + nmax] for k = -nmax..nmax (1 for k < 0)
    pmf = [stats.binom.pmf(x_all[None, :], x_all[:, None], p) for p in (p0, p1)]
    k_all = np.arange(-nmax, nmax + 1)
    sf = [
        np.where(k_all < 0, 1.0, stats.binom.sf(k_all[None, :], x_all[:, None], p))
        for p in (p0, p1)
    ]
    rows = []
    closest: tuple[float, int, int, int, int] = (-1.0, 0, 0, 0, 0)  # most powerful at alpha
    for n in range(2, nmax + 1):
        best: tuple[float, int, int, int, float, float, float] | None = None
        for n1 in range(1, n):
            m = n - n1
            b0, b1 = pmf[0][n1, : n1 + 1], pmf[1][n1, : n1 + 1]
            # S(r - x1) for x1 in 0..n1 (rows) and r in 0..n - 1 (columns)
            k = x_all[None, :n] - x_all[: n1 + 1, None] + nmax
            s0, s1 = sf[0][m, k], sf[1][m, k]
            # alpha(r1, r) = sum_{x1 > r1} b0(x1) S0(r - x1): reverse cumulative sums
            a_mat = np.cumsum((b0[:, None] * s0)[::-1], axis=0)[::-1]  # row x1: sum over >= x1
            p_mat = np.cumsum((b1[:, None] * s1)[::-1], axis=0)[::-1]
            pet0 = np.cumsum(b0)[:n1]  # P(X1 <= r1), r1 = 0..n1 - 1
            alpha_rr = a_mat[1:]  # (r1, r): sum over x1 >= r1 + 1
            power_rr = p_mat[1:]
            ok = (alpha_rr <= alpha) & (x_all[None, :n] >= x_all[:n1, None])
            has = ok.any(axis=1)
            r_best = np.argmax(ok, axis=1)  # smallest feasible r: the most powerful
            rows_i = np.arange(n1)
            pw_best = np.where(has, power_rr[rows_i, r_best], -1.0)
            j = int(np.argmax(pw_best))
            if pw_best[j] > closest[0]:
                closest = (float(pw_best[j]), j, n1, int(r_best[j]), n)
            feasible = has & (pw_best >= 1.0 - beta)
            if not feasible.any():
                continue
            en0 = n1 + (1.0 - pet0) * m
            r1 = int(np.flatnonzero(feasible)[np.argmin(en0[feasible])])
            key = (float(en0[r1]), n1, r1, int(r_best[r1]))
            if best is None or key < best[:4]:
                r = int(r_best[r1])
                best = (*key, float(pet0[r1]), float(alpha_rr[r1, r]), float(power_rr[r1, r]))
        if best is not None:
            keys = ("EN(p0)", "n1", "r1", "r", "PET(p0)", "alpha", "power")
            rows.append({"n": n, **dict(zip(keys, best, strict=True))})
    cols = ["r1", "n1", "r", "n", "EN(p0)", "PET(p0)", "alpha", "power"]
    out = pd.DataFrame(rows, columns=cols)
    out.attrs["closest"] = closest
    return out


def _admissible(cand: pd.DataFrame) -> pd.DataFrame:
    """Lower convex hull of (n, EN(p0)) from the minimax design to the optimal one: the
    designs minimising q n + (1 - q) EN for some q, with their q ranges."""
    pts = cand.sort_values(["n", "EN(p0)"]).reset_index(drop=True)
    hull: list[int] = []
    for i in range(len(pts)):
        while len(hull) >= 2:
            a, b = pts.iloc[hull[-2]], pts.iloc[hull[-1]]
            c = pts.iloc[i]
            cross = (b.n - a.n) * (c["EN(p0)"] - a["EN(p0)"]) - (b["EN(p0)"] - a["EN(p0)"]) * (
                c.n - a.n
            )
            if cross <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    out = pts.iloc[hull].reset_index(drop=True)
    # keep the part where EN decreases with n (up to the optimal design)
    stop = int(np.argmin(out["EN(p0)"].to_numpy())) + 1
    out = out.iloc[:stop].copy()
    # q range: design j is best for q between the slopes to its neighbours
    n_arr, en_arr = out.n.to_numpy(float), out["EN(p0)"].to_numpy()
    q_hi, q_lo = np.ones(len(out)), np.zeros(len(out))
    for j in range(len(out) - 1):
        # q n_j + (1-q) en_j = q n_{j+1} + (1-q) en_{j+1}  ->  q = d_en / (d_en + d_n)
        d_n, d_en = n_arr[j + 1] - n_arr[j], en_arr[j] - en_arr[j + 1]
        q = d_en / (d_en + d_n)
        q_lo[j], q_hi[j + 1] = q, q
    out["q_min"], out["q_max"] = q_lo, q_hi
    return out.reset_index(drop=True)


def simon_two_stage(
    p0: float, p1: float, alpha: float = 0.05, beta: float = 0.2, nmax: int = 100
) -> SimonResult:
    """Simon's two-stage designs for H0: p <= p0 against p >= p1.

    Stage 1 treats ``n1`` patients and stops if at most ``r1`` respond; otherwise ``n``
    patients are treated in all and H0 is rejected if more than ``r`` respond. All
    designs with ``n <= nmax`` are searched exhaustively (the type I error and power are
    exact binomial sums); for each (n, n1, r1) the smallest r with type I error at most
    ``alpha`` is the most powerful, and it is kept if its power is at least ``1 - beta``.

    Parameters
    ----------
    p0, p1 : float
        Uninteresting and target response rates (``p0 < p1``).
    alpha, beta : float
        Maximum type I error at p0 and maximum type II error at p1.
    nmax : int
        Largest total sample size searched.

    Returns
    -------
    SimonResult
        Optimal (smallest EN(p0)), minimax (smallest n) and admissible designs.

    Raises
    ------
    ValueError
        When no design with ``n <= nmax`` meets both targets (the message gives the most
        powerful design found at ``alpha``).

    References
    ----------
    .. [1] Simon R. Optimal two-stage designs for phase II clinical trials. Control Clin
       Trials 1989;10:1-10.
    .. [2] Jung SH, Lee T, Kim K, George SL. Admissible two-stage designs for phase II
       cancer clinical trials. Stat Med 2004;23:561-569.

    Examples
    --------
    >>> from rdstats.designs import simon_two_stage
    >>> res = simon_two_stage(0.1, 0.3, alpha=0.05, beta=0.2, nmax=40)
    >>> res.optimal, res.minimax
    (SimonTwoStage(r1=1, n1=10, r=5, n=29), SimonTwoStage(r1=1, n1=15, r=5, n=25))
    """
    p0 = _check_rate(p0, "p0")
    p1 = _check_rate(p1, "p1")
    if not p0 < p1:
        raise ValueError(f"p1 must exceed p0, got p0={p0}, p1={p1}")
    alpha = _check_rate(alpha, "alpha")
    beta = _check_rate(beta, "beta")
    if isinstance(nmax, bool) or not isinstance(nmax, (int, np.integer)) or nmax < 2:
        raise ValueError(f"nmax must be an integer >= 2, got {nmax!r}")
    cand = _search(p0, p1, alpha, beta, int(nmax))
    if cand.empty:
        pw, r1, n1, r, n = cand.attrs["closest"]
        best = (
            f"the most powerful with type I error <= {alpha} is {r1}/{n1}, {r}/{n} with power "
            f"{pw:.4f}"
            if pw >= 0
            else "none even reaches the type I error"
        )
        raise ValueError(
            f"no two-stage design with n <= {nmax} has type I error <= {alpha} and power "
            f">= {1 - beta}; {best} - raise nmax"
        )
    i_opt = int(np.argmin(cand["EN(p0)"].to_numpy()))
    opt = cand.iloc[i_opt]
    mm = cand.iloc[0]  # smallest n (rows are in increasing n, best EN within n)
    return SimonResult(
        p0=p0,
        p1=p1,
        alpha=alpha,
        beta=beta,
        optimal=SimonTwoStage(int(opt.r1), int(opt.n1), int(opt.r), int(opt.n), p0),
        minimax=SimonTwoStage(int(mm.r1), int(mm.n1), int(mm.r), int(mm.n), p0),
        admissible=_admissible(cand),
        candidates=cand,
        provenance=provenance(
            {"p0": p0, "p1": p1, "alpha": alpha, "beta": beta, "nmax": int(nmax)}
        ),
    )

"""Self-contained HTML report of an operating-characteristics result (no statistics here)."""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["oc_report_html", "write_report"]

_CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 70em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #446; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; color: #334; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #ccd; padding: .25em .6em; text-align: right; }
th { background: #eef; } td:first-child, th:first-child { text-align: left; }
pre { background: #f6f6fa; padding: .8em; overflow-x: auto; font-size: .8em; }
.note { color: #555; font-size: .9em; } img { max-width: 100%; }
.figs { display: flex; flex-wrap: wrap; gap: 1em; }
"""

_PLOTTED = ("p_success", "n_mean", "bias", "rmse", "coverage", "p_early_stop")


def _table(df: pd.DataFrame, index: bool = True) -> str:
    return df.to_html(index=index, float_format=lambda v: f"{v:.4g}", border=0, escape=True)


def _with_mcse(result: Any) -> pd.DataFrame:
    """Wide table with 'value ± MCSE' cells (or the exact value)."""
    wide = result.summary(wide=True)
    params = result.scenarios.parameters + (["null"] if "null" in wide else [])
    out = wide[params].copy()
    metrics = [c for c in wide.columns if c not in params and not c.endswith("_mcse")]
    exact = result.method == "exact"
    for m in metrics:
        v, e = wide[m], wide[f"{m}_mcse"]
        out[m] = [
            "" if pd.isna(a) else (f"{a:.4f}" if exact else f"{a:.4f} ± {b:.4f}")
            for a, b in zip(v, e, strict=True)
        ]
    return out


def _figures(result: Any) -> list[tuple[str, str]]:
    """(caption, base64 PNG) for the headline metrics."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from rdstats.plotting._simulation import metric_label

    available = set(result.metrics["metric"])
    figs = []
    for metric in _PLOTTED:
        if metric not in available:
            continue
        values = result.metrics.loc[result.metrics["metric"] == metric, "value"]
        if metric == "n_mean" and values.nunique() == 1:
            continue  # fixed sample size: nothing to show
        fig, ax = plt.subplots(figsize=(6, 3.8))
        try:
            result.plot(metric, ax=ax)
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110)
        finally:
            plt.close(fig)
        figs.append((metric_label(metric), base64.b64encode(buf.getvalue()).decode()))
    return figs


def _design_section(result: Any) -> str:
    design = result.design
    spec = result.provenance.get("design", {})
    parts = []
    if design is not None and hasattr(design, "summary"):
        parts.append(_table(design.summary(), index=False))
    for name in ("prior", "prior_1", "prior_2"):
        prior = getattr(design, name, None) if design is not None else None
        if prior is not None and hasattr(prior, "components"):
            parts.append(f"<p><b>{html.escape(name)}</b></p>" + _table(prior.components()))
    parts.append("<pre>" + html.escape(json.dumps(spec, indent=1)) + "</pre>")
    return "\n".join(parts)


def oc_report_html(result: Any, title: str | None = None) -> str:
    """HTML text of the report: design, scenarios, OC tables with MCSE, plots (embedded
    PNG) and provenance."""
    prov = result.provenance
    spec = prov.get("spec", {})
    title = title or spec.get("title") or "Operating characteristics"
    kind = prov.get("design", {}).get("type") or prov.get("design", {}).get("design", "design")
    if result.method == "exact":
        how = "exact enumeration of the outcome distribution (no Monte Carlo error)"
    else:
        how = (
            f"Monte Carlo, {result.n_trials:,} simulated trials per scenario; each value is "
            "followed by its Monte Carlo standard error (± MCSE)"
        )
    figs = "".join(
        f'<figure><img alt="{html.escape(c)}" src="data:image/png;base64,{b}">'
        f"<figcaption>{html.escape(c)}</figcaption></figure>"
        for c, b in _figures(result)
    )
    seed = prov.get("seed")
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(spec.get('description', ''))}</p>",
        f"<p class='note'>{html.escape(kind)} · {len(result.scenarios)} scenarios · "
        f"{html.escape(how)}.</p>",
        "<h2>Design</h2>",
        _design_section(result),
        "<h2>Scenarios</h2>",
        _table(result.scenarios.table, index=False),
        "<h2>Operating characteristics</h2>",
        "<p class='note'>p_success: probability of a positive decision (type I error in "
        "null scenarios, power otherwise); n: sample size; bias, RMSE and coverage refer to "
        "the posterior mean and the 95% credible interval of the design's estimand.</p>",
        _table(_with_mcse(result)),
        "<h2>Plots</h2>",
        "<p class='note'>Error bars: ± 2 MCSE.</p>" if result.method != "exact" else "",
        f"<div class='figs'>{figs}</div>",
        "<h2>Provenance</h2>",
        "<p class='note'>Re-run with <code>rdstats reproduce DIR</code>; seed entropy: "
        f"<code>{html.escape(json.dumps(seed))}</code>.</p>",
        "<pre>" + html.escape(json.dumps(prov, indent=1, default=str)) + "</pre>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_report(result: Any, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Write the HTML report of ``result`` (an OCResult, or a directory holding one) to
    ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from rdstats.designs import DecisionRule, OneArmDesign
    >>> from rdstats.priors import BetaMixture
    >>> from rdstats.reporting import write_report
    >>> res = OneArmDesign(BetaMixture(1, 1, 1), 20, DecisionRule(0.9, 0.2)).simulate(
    ...     {"theta": [0.2, 0.4]}, n_trials=500, rng=1, progress=False)
    >>> out = write_report(res, pathlib.Path(tempfile.mkdtemp()) / "report.html")
    >>> out.read_text().count("data:image/png;base64") >= 1
    True
    """
    from rdstats.simulate import OCResult

    if not isinstance(result, OCResult):
        result = OCResult.load(result)
    p = Path(path)
    p.write_text(oc_report_html(result, title))
    return p

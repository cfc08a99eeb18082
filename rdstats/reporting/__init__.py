"""Reports (HTML) of rdstats results: tables, embedded plots and provenance — no statistics."""

from rdstats.reporting._html import oc_report_html, write_report

__all__ = ["oc_report_html", "write_report"]

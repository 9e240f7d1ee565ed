"""rerun-lineage: Alloy Journey Application rerun lineage from exports.

The public API, re-exported lazily so that `import lineage` (and the CLI's fast commands) stay quick:

    from lineage import resolve_home, ingest, build_chains, chain_of, build_reports, open_warehouse
"""

from importlib import import_module

_EXPORTS = {
    "Home": "lineage.warehouse",
    "resolve_home": "lineage.warehouse",
    "publish_warehouse": "lineage.warehouse",
    "connect": "lineage.warehouse",
    "LineageError": "lineage.errors",
    "generate": "lineage.synthetic",
    "ingest": "lineage.ingest",
    "build_chains": "lineage.chains",
    "chain_of": "lineage.chains",
    "format_chain": "lineage.chains",
    "build_reports": "lineage.reports",
    "build_html_report": "lineage.reports",
    "headline": "lineage.reports",
    "headline_text": "lineage.reports",
    "open_warehouse": "lineage.notebook",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lineage' has no attribute {name!r}")

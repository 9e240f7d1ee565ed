"""The ground truth of a synthetic export: one Parquet row per generated application, streamed."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lineage.synthetic_chains import Chain

TRUTH_SCHEMA = pa.schema(
    [
        ("journey_application_token", pa.string()),
        ("previous_token", pa.string()),  # the true parent; NULL for a root
        ("root_token", pa.string()),
        ("depth", pa.int32()),  # true hops from the root
        ("in_export", pa.bool_()),  # a valid snapshot of it is written somewhere in the export
        ("has_rerun_block", pa.bool_()),  # its snapshot (written or not) carries `_embedded.rerun`
        ("parent_links_it", pa.bool_()),  # the parent's written snapshot lists it in `_embedded.reruns[]`
        ("journey_token", pa.string()),
        ("created_at_ms", pa.int64()),
        ("status", pa.string()),
        ("complete_outcome", pa.string()),
    ]
)
BATCH_ROWS = 16_384  # small batches keep memory flat; row groups stay a useful size


class TruthWriter:
    """Collects rows chain by chain and writes them in batches to a temporary file, moved into place."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.writer = pq.ParquetWriter(self.tmp, TRUTH_SCHEMA)
        self.cols: dict[str, list] = {name: [] for name in TRUTH_SCHEMA.names}

    def add(self, chain: Chain) -> None:
        apps, c = chain.apps, self.cols
        for app in apps:
            parent = apps[app.parent] if app.parent is not None else None
            c["journey_application_token"].append(app.token)
            c["previous_token"].append(parent.token if parent else None)
            c["root_token"].append(apps[0].token)
            c["depth"].append(app.depth)
            c["in_export"].append(app.in_export)
            c["has_rerun_block"].append(app.has_block)
            c["parent_links_it"].append(bool(parent and parent.in_export and app.listed_by_parent))
            c["journey_token"].append(chain.journey[0])
            c["created_at_ms"].append(app.created_at)
            c["status"].append(app.status)
            c["complete_outcome"].append(app.outcome)
        if len(c["depth"]) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.cols["depth"]:
            self.writer.write_table(pa.table(self.cols, schema=TRUTH_SCHEMA))
            self.cols = {name: [] for name in TRUTH_SCHEMA.names}

    def abort(self) -> None:
        self.writer.close()
        self.tmp.unlink(missing_ok=True)

    def close(self) -> None:
        self._flush()
        self.writer.close()
        os.replace(self.tmp, self.path)

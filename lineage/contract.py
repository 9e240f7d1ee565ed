"""The data contract in code: the Arrow schema of every table rerun-lineage writes.

Column order and types follow ../shared/CONTRACT.md §3. Every writer casts to these schemas, so a table
is never written with a drifting type, and an empty table still has its columns.
"""

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

APPLICATIONS = pa.schema(
    [
        ("journey_application_token", pa.string()),
        ("journey_token", pa.string()),
        ("journey_name", pa.string()),
        ("journey_version_num", pa.string()),
        ("status", pa.string()),
        ("complete_outcome", pa.string()),
        ("journey_application_status", pa.string()),
        ("created_at", TS),
        ("updated_at", TS),
        ("closed_at", TS),
        ("is_rerun", pa.bool_()),
        ("rerun_initiated_by", pa.string()),
        ("rerun_previous_token", pa.string()),
        ("rerun_root_token", pa.string()),
        ("rerun_root_external_group_id", pa.string()),
        ("external_application_id", pa.string()),
        ("external_group_id", pa.string()),
        ("sandbox", pa.bool_()),
        ("is_archived", pa.bool_()),
        ("is_shadow", pa.bool_()),
        ("source_file", pa.string()),
    ]
)

# The forward links of an application's winning snapshot (`_embedded.reruns[]`): evidence rule 2.
APPLICATION_RERUNS = pa.schema(
    [
        ("journey_application_token", pa.string()),
        ("next_journey_application_token", pa.string()),
        ("initiated_by", pa.string()),
        ("created_at", TS),
    ]
)

EVENTS = pa.schema(
    [
        ("journey_application_event_token", pa.string()),
        ("journey_application_token", pa.string()),
        ("type", pa.string()),
        ("timestamp", TS),
        ("outcome", pa.string()),
        ("entity_token", pa.string()),
        ("entity_application_token", pa.string()),
        ("rerun_journey_application_token", pa.string()),
        ("node_type", pa.string()),
        ("source", pa.string()),
    ]
)

REJECTS = pa.schema(
    [
        ("source_file", pa.string()),
        ("record_number", pa.int64()),
        ("error", pa.string()),
        ("quarantine_path", pa.string()),
    ]
)

RERUN_EDGES = pa.schema(
    [
        ("parent_token", pa.string()),
        ("child_token", pa.string()),
        ("evidence", pa.list_(pa.string())),
        ("initiated_by", pa.string()),
        ("child_created_at", TS),
    ]
)

RERUN_CHAINS = pa.schema(
    [
        ("journey_application_token", pa.string()),
        ("previous_token", pa.string()),
        ("root_token", pa.string()),
        ("depth", pa.int64()),
        ("attempt", pa.int64()),
        ("chain_size", pa.int64()),
        ("is_root", pa.bool_()),
        ("is_latest", pa.bool_()),
        ("lineage_status", pa.string()),
    ]
)

CHAIN_SUMMARY = pa.schema(
    [
        ("root_token", pa.string()),
        ("root_in_export", pa.bool_()),
        ("journey_token", pa.string()),
        ("root_created_at", TS),
        ("root_status", pa.string()),
        ("root_outcome", pa.string()),
        ("chain_size", pa.int64()),
        ("rerun_count", pa.int64()),
        ("max_depth", pa.int64()),
        ("latest_token", pa.string()),
        ("final_status", pa.string()),
        ("final_outcome", pa.string()),
        ("first_rerun_at", TS),
        ("last_rerun_at", TS),
        ("recovered", pa.bool_()),
        ("outcome_changed", pa.bool_()),
    ]
)

# Tables with a fixed schema, by name. Report tables (`report_*`) are defined in lineage.reports.
SCHEMAS: dict[str, pa.Schema] = {
    "applications": APPLICATIONS,
    "application_reruns": APPLICATION_RERUNS,
    "events": EVENTS,
    "rejects": REJECTS,
    "rerun_edges": RERUN_EDGES,
    "rerun_chains": RERUN_CHAINS,
    "chain_summary": CHAIN_SUMMARY,
}

LINEAGE_STATUSES = (
    "cycle",
    "broken_chain",
    "root_conflict",
    "root_outside_export",
    "unlinked_rerun",
    "complete",
)

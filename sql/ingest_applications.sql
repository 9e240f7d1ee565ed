-- applications: one row per application token seen in a valid snapshot, from its winning snapshot.
-- Input: `winners` (sql/ingest_winners.sql). Timestamps are epoch ms, UTC.
SELECT
    journey_application_token, journey_token, journey_name, journey_version_num, status,
    complete_outcome, journey_application_status,
    epoch_ms(created_at)::TIMESTAMPTZ AS created_at,
    epoch_ms(updated_at)::TIMESTAMPTZ AS updated_at,
    epoch_ms(closed_at)::TIMESTAMPTZ AS closed_at,
    is_rerun, rerun_initiated_by, rerun_previous_token, rerun_root_token, rerun_root_external_group_id,
    external_application_id, external_group_id, sandbox, is_archived, is_shadow,
    source_file
FROM winners
ORDER BY journey_application_token

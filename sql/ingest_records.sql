-- One landing file's records, classified (CONTRACT §2): one row per record with its kind
-- (snapshot / webhook / event / reject), why it is rejected, and the typed fields the tables keep.
-- Input: `raw_records` (key = the file's staged key, rec = 1-based record ordinal in the file, then the
-- JSON fields read by lineage.ingest_parse).
-- Records that are not JSON objects (or not JSON at all) arrive as rows of NULLs and are rejected here;
-- lineage.ingest_rejects words their error from the raw text.
WITH shaped AS (
    SELECT
        *,
        -- The shapes overlap (an Alloy event item has an `_embedded.node`; a webhook envelope has a
        -- top-level `type` and `timestamp`): an event-shaped record is an event, a record with its own
        -- token is never a webhook envelope.
        jpresent(journey_application_token) AND type IS NOT NULL AND jpresent("timestamp")
            AND status IS NULL AS is_event,
        jpresent(journey_application_token) AND (status IS NOT NULL OR _embedded IS NOT NULL)
            AND NOT is_event AS is_snapshot,
        jpresent(data.journey_application_token) AND data.type IS NOT NULL
            AND NOT (is_event OR is_snapshot) AS is_webhook,
        -- events[] items that are not objects (or carry nothing an event has) are not events
        list_filter(_embedded.events, lambda e: e IS NOT NULL AND (
            e.type IS NOT NULL OR jpresent(e."timestamp") OR e.journey_application_event_token IS NOT NULL
            OR e.rerun_journey_application_token IS NOT NULL OR e.entity_application_token IS NOT NULL
        )) AS snapshot_events
    FROM raw_records
),
checked AS (
    SELECT
        *,
        CASE
            WHEN is_webhook THEN coalesce(
                'webhook data.journey_application_token ' || token_problem(data.journey_application_token),
                'webhook data.timestamp ' || ms_problem(data."timestamp"))
            WHEN is_snapshot THEN coalesce(
                'journey_application_token ' || token_problem(journey_application_token),
                'created_at ' || ms_problem(created_at),
                'updated_at ' || ms_problem(updated_at),
                '_embedded.events[] timestamp ' || list_filter(
                    list_transform(snapshot_events, lambda e: ms_problem(e."timestamp")),
                    lambda p: p IS NOT NULL)[1])
            WHEN is_event THEN coalesce(
                'journey_application_token ' || token_problem(journey_application_token),
                'timestamp ' || ms_problem("timestamp"))
            WHEN jpresent(journey_application_token) OR jpresent(data.journey_application_token)
                THEN 'unrecognised record: not an application snapshot, webhook delivery or event'
            ELSE 'no journey_application_token'
        END AS error
    FROM shaped
)
SELECT
    key,
    rec,
    CASE
        WHEN error IS NOT NULL THEN 'reject'
        WHEN is_webhook THEN 'webhook'
        WHEN is_snapshot THEN 'snapshot'
        ELSE 'event'
    END AS kind,
    error,
    CASE WHEN is_webhook THEN jtext(data.journey_application_token)
         ELSE jtext(journey_application_token) END AS journey_application_token,
    coalesce(journey_token, _embedded.journey.journey_token) AS journey_token,
    coalesce(journey_name, _embedded.journey.journey_name, _embedded.journey.name)
        AS journey_name,
    coalesce(journey_version_num, _embedded.journey.journey_version_num,
             _embedded.journey.version_num) AS journey_version_num,
    status AS status,
    complete_outcome AS complete_outcome,
    journey_application_status AS journey_application_status,
    jms(created_at) AS created_at,
    jms(updated_at) AS updated_at,
    jms(closed_at) AS closed_at,
    jbool(is_rerun) AS is_rerun,
    _embedded.rerun.initiated_by AS rerun_initiated_by,
    _embedded.rerun.previous_journey_application_token AS rerun_previous_token,
    _embedded.rerun.root_journey_application_token AS rerun_root_token,
    _embedded.rerun.root_external_group_id AS rerun_root_external_group_id,
    external_application_id AS external_application_id,
    external_group_id AS external_group_id,
    jbool(sandbox) AS sandbox,
    jbool(is_archived) AS is_archived,
    coalesce(jbool(is_shadow_app), false) OR coalesce(jbool(is_shadow_application), false)
        OR coalesce(jbool(is_part_of_shadow_test), false) AS is_shadow,
    CASE WHEN error IS NULL AND is_snapshot AND NOT is_webhook THEN list_transform(
        list_filter(_embedded.reruns, lambda r: r.next_journey_application_token IS NOT NULL),
        lambda r: {
            'next_journey_application_token': r.next_journey_application_token,
            'initiated_by': r.initiated_by,
            'created_at': jms(r.created_at)
        })
    END AS reruns,
    CASE
        WHEN error IS NOT NULL THEN NULL
        WHEN is_webhook THEN [event_row(data)]
        WHEN is_snapshot THEN list_transform(snapshot_events, lambda e: event_row(e))
        ELSE [event_row({
            'journey_application_event_token': journey_application_event_token, 'type': type,
            'timestamp': "timestamp", 'outcome': outcome, 'entity_token': entity_token,
            'entity_application_token': entity_application_token,
            'rerun_journey_application_token': rerun_journey_application_token, 'node_type': node_type,
            '_embedded': {'node': {'type': _embedded.node.type}}})]
    END AS events
FROM checked

-- events: one row per distinct event (CONTRACT §3). Identity: (journey_application_token, type,
-- timestamp, entity_application_token, rerun_journey_application_token), NULLs equal (GROUP BY).
-- Events of every snapshot (not only the winner), webhook deliveries and bare events are unioned.
-- "First" is the order snapshot, webhook, event; then source_file, record, position in events[]:
-- the event token is the first non-NULL one, every other column comes from the first row.
-- That order is packed into one HUGEINT (`seen`: source kind, file number in path order, record,
-- position), which min_by compares far faster than a struct (1M applications: 17.5 s instead of 22.6 s).
-- Rows in application, then time order: what a reader of one chain wants.
-- Input: `staged_records`.
WITH files AS (  -- each source_file's number in path order
    SELECT source_file, row_number() OVER (ORDER BY source_file) AS file_no
    FROM (SELECT DISTINCT source_file FROM staged_records)
),
flat AS (
    SELECT
        journey_application_token,
        CASE kind WHEN 'snapshot' THEN 0 WHEN 'webhook' THEN 1 ELSE 2 END AS src,
        file_no, rec,
        generate_subscripts(events, 1) AS idx,
        unnest(events) AS e
    FROM staged_records JOIN files USING (source_file)
    WHERE kind <> 'reject'
),
ordered AS (
    SELECT journey_application_token, e.*, src,
        -- src < 4, file_no < 2^32, rec < 2^56, idx < 2^32
        (src::HUGEINT << 120) | (file_no::HUGEINT << 88) | (rec::HUGEINT << 32) | idx::HUGEINT AS seen
    FROM flat
),
grouped AS (
    SELECT
        min_by(journey_application_event_token, seen)
            FILTER (WHERE journey_application_event_token IS NOT NULL) AS event_token,
        journey_application_token, type, ts, entity_application_token, rerun_journey_application_token,
        min_by({'outcome': outcome, 'entity_token': entity_token, 'node_type': node_type, 'src': src},
               seen) AS first
    FROM ordered
    GROUP BY journey_application_token, type, ts, entity_application_token, rerun_journey_application_token
)
SELECT
    event_token AS journey_application_event_token,
    journey_application_token,
    type,
    epoch_ms(ts)::TIMESTAMPTZ AS "timestamp",
    first.outcome,
    first.entity_token,
    entity_application_token,
    rerun_journey_application_token,
    first.node_type,
    ['snapshot', 'webhook', 'event'][first.src + 1] AS source
FROM grouped
ORDER BY journey_application_token, "timestamp" NULLS LAST, type, entity_application_token,
    rerun_journey_application_token

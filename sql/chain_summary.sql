-- chain_summary: one row per distinct non-NULL root_token of rerun_chains (CONTRACT §3).
--
-- From the DuckDB CLI, on a published home:
--   duckdb -readonly <home>/warehouse.duckdb -f sql/chain_summary.sql
-- Reads the tables `rerun_chains` and `applications`; the last statement is the table.
--
-- Choices where the contract is silent:
--   journey_token    the root's; when the root is not in the export, the latest application's.
--   recovered        statuses compared case-insensitively (Alloy writes them lower-case anyway).
--   outcome_changed  NULL-safe and case-insensitive: no outcome vs an outcome counts as a change
--                    (an errored root that ends 'Approved' changed its outcome); NULL only when the root
--                    is not in the export.
--   first/last_rerun_at  min/max created_at of the chain's applications other than the root.

SELECT
    c.root_token,
    any_value(r.journey_application_token) IS NOT NULL AS root_in_export,
    coalesce(any_value(r.journey_token), any_value(a.journey_token) FILTER (WHERE c.is_latest)) AS journey_token,
    any_value(r.created_at) AS root_created_at,
    any_value(r.status) AS root_status,
    any_value(r.complete_outcome) AS root_outcome,
    count(*) AS chain_size,
    count(*) FILTER (WHERE c.journey_application_token <> c.root_token) AS rerun_count,
    max(c.depth) AS max_depth,
    any_value(c.journey_application_token) FILTER (WHERE c.is_latest) AS latest_token,
    any_value(a.status) FILTER (WHERE c.is_latest) AS final_status,
    any_value(a.complete_outcome) FILTER (WHERE c.is_latest) AS final_outcome,
    min(a.created_at) FILTER (WHERE c.journey_application_token <> c.root_token) AS first_rerun_at,
    max(a.created_at) FILTER (WHERE c.journey_application_token <> c.root_token) AS last_rerun_at,
    coalesce(
        lower(any_value(r.status)) = 'error'
        AND lower(any_value(a.status) FILTER (WHERE c.is_latest)) = 'completed',
        false
    ) AS recovered,
    CASE WHEN any_value(r.journey_application_token) IS NOT NULL THEN
        lower(any_value(r.complete_outcome))
            IS DISTINCT FROM lower(any_value(a.complete_outcome) FILTER (WHERE c.is_latest))
    END AS outcome_changed
FROM rerun_chains AS c
JOIN applications AS a ON a.journey_application_token = c.journey_application_token
LEFT JOIN applications AS r ON r.journey_application_token = c.root_token
WHERE c.root_token IS NOT NULL
GROUP BY c.root_token
ORDER BY c.root_token;

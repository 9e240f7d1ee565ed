-- rerun_edges: one row per (parent, child) rerun link (CONTRACT §3).
--
-- From the DuckDB CLI, on a published home:
--   duckdb -readonly <home>/warehouse.duckdb -f sql/rerun_edges.sql
-- Reads the tables `applications`, `application_reruns`, `events`; the last statement is the table.
--
-- The parent of an application C, first rule with an answer wins:
--   1 child_link   C's own _embedded.rerun.previous_journey_application_token;
--   2 parent_link  an application in `applications` whose winning snapshot's reruns[] names C;
--   3 event        started_rerun_application events naming C, carried by applications in `applications`
--                  (the carriers are C's previous and root: the previous is the one created last).
-- Where a rule has several answers (corrupt data: two parents list C), the parent created last wins,
-- then the greater token, so the result never depends on row order.
-- `evidence` lists every rule whose own answer is the chosen parent. Children that are not in
-- `applications` (a reruns[] entry or event naming a rerun whose snapshot is missing) still get their
-- edge: it is a fact of the export, and rerun_chains only reads edges of applications it has.

CREATE OR REPLACE TEMP TABLE _rerun_candidates AS
SELECT journey_application_token AS child_token, rerun_previous_token AS parent_token, 1 AS rule,
       NULL::VARCHAR AS listed_initiated_by, NULL::TIMESTAMPTZ AS seen_at
FROM applications
WHERE rerun_previous_token IS NOT NULL AND rerun_previous_token <> ''
UNION ALL
SELECT r.next_journey_application_token, r.journey_application_token, 2, r.initiated_by, r.created_at
FROM application_reruns AS r
SEMI JOIN applications AS p ON p.journey_application_token = r.journey_application_token
WHERE r.next_journey_application_token IS NOT NULL AND r.next_journey_application_token <> ''
UNION ALL
SELECT e.rerun_journey_application_token, e.journey_application_token, 3, NULL, e.timestamp
FROM events AS e
SEMI JOIN applications AS c ON c.journey_application_token = e.journey_application_token
WHERE e.type = 'started_rerun_application'
  AND e.rerun_journey_application_token IS NOT NULL AND e.rerun_journey_application_token <> '';

-- One row per distinct (child, parent) claim, with which rules make it.
CREATE OR REPLACE TEMP TABLE _rerun_pairs AS
SELECT c.child_token, c.parent_token,
       bool_or(c.rule = 1) AS by_child,
       bool_or(c.rule = 2) AS by_parent,
       bool_or(c.rule = 3) AS by_event,
       min(c.listed_initiated_by) FILTER (WHERE c.rule = 2) AS listed_initiated_by,
       min(c.seen_at) FILTER (WHERE c.rule = 2) AS listed_at,
       min(c.seen_at) FILTER (WHERE c.rule = 3) AS event_at,
       any_value(p.created_at) AS parent_created_at
FROM _rerun_candidates AS c
LEFT JOIN applications AS p ON p.journey_application_token = c.parent_token
GROUP BY c.child_token, c.parent_token;

-- Each rule's own answer per child (NULL where the rule has none).
CREATE OR REPLACE TEMP TABLE _rerun_answers AS
SELECT child_token,
       max(parent_token) FILTER (WHERE by_child) AS child_answer,
       max(parent_token) FILTER (WHERE by_parent AND parent_rank = 1) AS parent_answer,
       max(parent_token) FILTER (WHERE by_event AND event_rank = 1) AS event_answer
FROM (
    SELECT *,
           row_number() OVER (PARTITION BY child_token ORDER BY by_parent DESC,
                              parent_created_at DESC NULLS LAST, parent_token DESC) AS parent_rank,
           row_number() OVER (PARTITION BY child_token ORDER BY by_event DESC,
                              parent_created_at DESC NULLS LAST, parent_token DESC) AS event_rank
    FROM _rerun_pairs
)
GROUP BY child_token;

SELECT
    pr.parent_token,
    a.child_token,
    list_concat(
        CASE WHEN a.child_answer = pr.parent_token THEN ['child_link'] ELSE [] END,
        CASE WHEN a.parent_answer = pr.parent_token THEN ['parent_link'] ELSE [] END,
        CASE WHEN a.event_answer = pr.parent_token THEN ['event'] ELSE [] END
    )::VARCHAR[] AS evidence,
    coalesce(ch.rerun_initiated_by, pr.listed_initiated_by) AS initiated_by,
    coalesce(ch.created_at, pr.listed_at, pr.event_at) AS child_created_at
FROM _rerun_answers AS a
JOIN _rerun_pairs AS pr
  ON pr.child_token = a.child_token
 AND pr.parent_token = coalesce(a.child_answer, a.parent_answer, a.event_answer)
LEFT JOIN applications AS ch ON ch.journey_application_token = a.child_token
ORDER BY a.child_token;

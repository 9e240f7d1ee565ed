-- rerun_chains: one row per application in `applications`, with its chain (CONTRACT §3).
--
-- From the DuckDB CLI, on a published home:
--   duckdb -readonly <home>/warehouse.duckdb -f sql/rerun_chains.sql
-- Reads the tables `applications` and `rerun_edges`; the last statement is the table.
--
-- How it scales. Tokens are strings; every application is numbered once and joined to its parent's
-- number once (the only join on strings), so the walk below joins integers only. Roots are found by
-- pointer jumping (doubling), not one hop at a time: a chain 100,000 deep takes ~17 rounds. The walk
-- state of an application is
--   kind  0 still walking, 1 reached a root in the export, 2 reached the last application of the export
--         on its path (its parent is missing)
--   ptr   while walking: the id of an ancestor `hops` up; once resolved: the root (1) or that last one (2)
--   top   the id of the highest application on the walked path that reports a rerun_root_token (the
--         contract's "last application reached that has one"), NULL when none does
-- Each round, an application still walking takes over its pointer's state (the paths compose).
-- Most applications are resolved by looking three hops up with two joins; only the rest (deeper chains
-- and cycles, usually a small share) enters the recursive CTE, together with the rows they point at,
-- and USING KEY carries only the rows that changed into the next round. An application still walking
-- after ceil(log2(n)) + 2 rounds never reaches a root: it is in a cycle or under one.

CREATE OR REPLACE TEMP TABLE _chain_nodes AS
SELECT (row_number() OVER ())::INTEGER AS id,
       a.journey_application_token AS token,
       a.created_at,
       a.is_rerun,
       nullif(a.rerun_root_token, '') AS reported_root,
       e.parent_token
FROM applications AS a
LEFT JOIN rerun_edges AS e ON e.child_token = a.journey_application_token;

-- pid: the parent's id; NULL for a root (has_parent false) or a parent missing from the export.
CREATE OR REPLACE TEMP TABLE _chain_links AS
SELECT n.id, p.id AS pid, n.parent_token IS NOT NULL AS has_parent, n.reported_root IS NOT NULL AS reports
FROM _chain_nodes AS n
LEFT JOIN _chain_nodes AS p ON p.token = n.parent_token;

-- The state after looking up to three hops up (n, its parent p, its grandparent g).
CREATE OR REPLACE TEMP TABLE _chain_start AS
SELECT n.id,
       CASE
           WHEN NOT n.has_parent OR NOT p.has_parent OR NOT g.has_parent THEN 1  -- reached a root
           WHEN n.pid IS NULL OR p.pid IS NULL OR g.pid IS NULL THEN 2           -- reached a missing parent
           ELSE 0
       END::TINYINT AS kind,
       CASE
           WHEN NOT n.has_parent OR n.pid IS NULL THEN n.id
           WHEN NOT p.has_parent OR p.pid IS NULL THEN p.id
           WHEN NOT g.has_parent OR g.pid IS NULL THEN g.id
           ELSE g.pid
       END AS ptr,
       CASE
           WHEN NOT n.has_parent OR n.pid IS NULL THEN 0
           WHEN NOT p.has_parent OR p.pid IS NULL THEN 1
           WHEN NOT g.has_parent OR g.pid IS NULL THEN 2
           ELSE 3
       END::INTEGER AS hops,
       coalesce(CASE WHEN g.reports THEN g.id END, CASE WHEN p.reports THEN p.id END,
                CASE WHEN n.reports THEN n.id END) AS top
FROM _chain_links AS n
LEFT JOIN _chain_links AS p ON p.id = n.pid
LEFT JOIN _chain_links AS g ON g.id = p.pid;

-- The applications still walking, and the ones they point at.
CREATE OR REPLACE TEMP TABLE _chain_hard AS
SELECT * FROM _chain_start
WHERE kind = 0 OR id IN (SELECT ptr FROM _chain_start WHERE kind = 0);

SET VARIABLE rerun_chain_rounds = (SELECT ceil(log2(greatest(count(*), 2)))::INTEGER + 2 FROM _chain_hard);

CREATE OR REPLACE TEMP TABLE _chain_walk AS
WITH RECURSIVE walk(id, kind, ptr, hops, top, round) USING KEY (id) AS (
    SELECT id, kind, ptr, hops, top, 0 FROM _chain_hard
    UNION ALL
    SELECT f.id, p.kind, p.ptr, f.hops + p.hops, coalesce(p.top, f.top), f.round + 1
    FROM walk AS f
    JOIN recurring.walk AS p ON p.id = f.ptr
    WHERE f.kind = 0 AND f.round < getvariable('rerun_chain_rounds')
)
SELECT id, kind, ptr, hops, top FROM walk;

CREATE OR REPLACE TEMP TABLE _chain_state AS
SELECT s.id, coalesce(w.kind, s.kind) AS kind, coalesce(w.ptr, s.ptr) AS ptr,
       coalesce(w.hops, s.hops) AS hops, coalesce(w.top, s.top) AS top
FROM _chain_start AS s
LEFT JOIN _chain_walk AS w USING (id);

-- Walks that stepped out of the export (kind 2, usually few): the root is the reported root of `top`,
-- else the missing parent itself; only then is the depth known (the missing token is the root).
CREATE OR REPLACE TEMP TABLE _chain_outside AS
SELECT o.id, o.root, o.root = o.missing AS root_is_missing, o.hops, x.id AS root_id
FROM (
    SELECT s.id, s.hops, l.parent_token AS missing, coalesce(t.reported_root, l.parent_token) AS root
    FROM _chain_state AS s
    JOIN _chain_nodes AS l ON l.id = s.ptr
    LEFT JOIN _chain_nodes AS t ON t.id = s.top
    WHERE s.kind = 2
) AS o
LEFT JOIN _chain_nodes AS x ON x.token = o.root;

SELECT
    token AS journey_application_token,
    parent_token AS previous_token,
    root_token,
    depth,
    CASE WHEN root_token IS NOT NULL THEN row_number() OVER chain END AS attempt,
    CASE WHEN root_token IS NOT NULL THEN count(*) OVER whole END AS chain_size,
    coalesce(token = root_token, false) AS is_root,
    CASE WHEN root_token IS NOT NULL THEN row_number() OVER chain = count(*) OVER whole END AS is_latest,
    CASE
        WHEN kind = 0 THEN 'cycle'
        WHEN depth IS NULL THEN 'broken_chain'
        WHEN reported_root IS NOT NULL AND reported_root <> root_token THEN 'root_conflict'
        WHEN kind = 2 AND root_id IS NULL THEN 'root_outside_export'
        WHEN is_rerun AND parent_token IS NULL THEN 'unlinked_rerun'
        ELSE 'complete'
    END AS lineage_status
FROM (
    SELECT n.token, n.parent_token, n.created_at, n.is_rerun, n.reported_root, s.kind,
           CASE s.kind WHEN 1 THEN s.ptr WHEN 2 THEN o.root_id END AS root_id,
           CASE s.kind WHEN 1 THEN r.token WHEN 2 THEN o.root END AS root_token,
           (CASE WHEN s.kind = 1 THEN s.hops WHEN o.root_is_missing THEN s.hops + 1 END)::BIGINT AS depth
    FROM _chain_state AS s
    JOIN _chain_nodes AS n USING (id)
    LEFT JOIN _chain_nodes AS r ON s.kind = 1 AND r.id = s.ptr
    LEFT JOIN _chain_outside AS o ON s.kind = 2 AND o.id = s.id
)
-- a chain is keyed by its root's id when the root is in the export, else by the root token
WINDOW chain AS (PARTITION BY root_id, CASE WHEN root_id IS NULL THEN root_token END
                 ORDER BY created_at NULLS LAST, token),
       whole AS (chain ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING);

-- rerun_chains: one row per application in `applications`, with its chain (CONTRACT §3).
--
-- From the DuckDB CLI, on a published home:
--   duckdb -readonly <home>/warehouse.duckdb -f sql/rerun_chains.sql
-- Reads the tables `applications` and `rerun_edges`; the last statement is the table.
--
-- How it scales. Roots are found by pointer jumping (doubling), not by walking one hop at a time, so a
-- chain 100,000 deep takes ~17 rounds, not 100,000. The walk state of an application is
--   kind  0 still walking, 1 reached a root in the export, 2 stepped onto a token missing from the export
--   ptr   while walking: an ancestor 2^k hops up; once resolved: the root (kind 1) or the missing token (2)
--   hops  distance to ptr
--   top   the rerun_root_token reported highest on the walked path (the contract's "last application
--         reached that has one"), NULL when none on the path reports one
-- Each round, an application still walking takes over its pointer's state (the paths compose); a
-- resolved pointer resolves it. Most applications are roots, or reruns of a root, or of an application
-- whose parent or grandparent is missing: their state is known from two joins, so only the rest
-- (deeper chains and cycles, usually a small share) enters the recursive CTE, on integer ids, together
-- with the rows they point at, and USING KEY carries only the rows that changed into the next round. An application still walking after
-- ceil(log2(n)) + 2 rounds never reaches a root: it is in a cycle or under one.

CREATE OR REPLACE TEMP TABLE _chain_nodes AS
SELECT a.journey_application_token AS token,
       a.created_at,
       a.is_rerun,
       nullif(a.rerun_root_token, '') AS reported_root,
       e.parent_token
FROM applications AS a
LEFT JOIN rerun_edges AS e ON e.child_token = a.journey_application_token;

-- The state after looking up to three hops up: roots, reruns of roots and their reruns, and anything
-- whose parent or grandparent is missing are resolved here, without recursion.
CREATE OR REPLACE TEMP TABLE _chain_start AS
SELECT n.*,
       CASE
           WHEN n.parent_token IS NULL THEN 1         -- a root
           WHEN p.token IS NULL THEN 2                -- its parent is missing
           WHEN p.parent_token IS NULL THEN 1         -- a rerun of a root
           WHEN g.token IS NULL THEN 2                -- its grandparent is missing
           WHEN g.parent_token IS NULL THEN 1         -- a rerun of a rerun of a root
           ELSE 0
       END::TINYINT AS kind,
       CASE
           WHEN n.parent_token IS NULL THEN n.token
           WHEN p.token IS NULL OR p.parent_token IS NULL THEN n.parent_token
           WHEN g.token IS NULL OR g.parent_token IS NULL THEN p.parent_token
           ELSE g.parent_token
       END AS ptr,
       CASE
           WHEN n.parent_token IS NULL THEN 0
           WHEN p.token IS NULL OR p.parent_token IS NULL THEN 1
           WHEN g.token IS NULL OR g.parent_token IS NULL THEN 2
           ELSE 3
       END::BIGINT AS hops,
       coalesce(g.reported_root, p.reported_root, n.reported_root) AS top
FROM _chain_nodes AS n
LEFT JOIN _chain_nodes AS p ON p.token = n.parent_token
LEFT JOIN _chain_nodes AS g ON g.token = p.parent_token;

-- The applications still walking, and the resolved ones they point at, numbered for a fast walk.
CREATE OR REPLACE TEMP TABLE _chain_hard AS
SELECT (row_number() OVER ())::INTEGER AS id, token, kind, ptr, hops, top
FROM _chain_start
WHERE kind = 0 OR token IN (SELECT ptr FROM _chain_start WHERE kind = 0);

SET VARIABLE rerun_chain_rounds = (SELECT ceil(log2(greatest(count(*), 2)))::INTEGER + 2 FROM _chain_hard);

-- ptr_id: the pointer while walking; target: the root or missing token once resolved.
CREATE OR REPLACE TEMP TABLE _chain_walk AS
WITH RECURSIVE walk(id, kind, ptr_id, target, hops, top, round) USING KEY (id) AS (
    -- a pointer to a token outside the export (every token of the export it points at is in
    -- _chain_hard) resolves at once: that token is missing
    SELECT h.id, CASE WHEN h.kind = 0 AND p.id IS NULL THEN 2 ELSE h.kind END, p.id,
           CASE WHEN p.id IS NULL THEN h.ptr END, h.hops, h.top, 0
    FROM _chain_hard AS h
    LEFT JOIN _chain_hard AS p ON h.kind = 0 AND p.token = h.ptr
    UNION ALL
    SELECT f.id, p.kind, p.ptr_id, p.target, f.hops + p.hops, coalesce(p.top, f.top), f.round + 1
    FROM walk AS f
    JOIN recurring.walk AS p ON p.id = f.ptr_id
    WHERE f.kind = 0 AND f.round < getvariable('rerun_chain_rounds')
)
SELECT h.token, w.kind, w.target AS ptr, w.hops, w.top
FROM walk AS w
JOIN _chain_hard AS h USING (id)
WHERE h.kind = 0;

SELECT
    token AS journey_application_token,
    parent_token AS previous_token,
    root_token,
    depth,
    CASE WHEN root_token IS NOT NULL THEN row_number() OVER chain END AS attempt,
    CASE WHEN root_token IS NOT NULL THEN count(*) OVER (PARTITION BY root_token) END AS chain_size,
    coalesce(token = root_token, false) AS is_root,
    CASE WHEN root_token IS NOT NULL THEN row_number() OVER chain = count(*) OVER (PARTITION BY root_token) END
        AS is_latest,
    CASE
        WHEN kind = 0 THEN 'cycle'
        WHEN depth IS NULL THEN 'broken_chain'
        WHEN reported_root IS NOT NULL AND reported_root <> root_token THEN 'root_conflict'
        WHEN kind = 2 THEN 'root_outside_export'
        WHEN is_rerun AND parent_token IS NULL THEN 'unlinked_rerun'
        ELSE 'complete'
    END AS lineage_status
-- the root, and the depth where it can be known
FROM (
    SELECT s.token, s.parent_token, s.created_at, s.is_rerun, s.reported_root,
           coalesce(w.kind, s.kind) AS kind,
           CASE coalesce(w.kind, s.kind)
               WHEN 1 THEN coalesce(w.ptr, s.ptr)
               WHEN 2 THEN coalesce(w.top, s.top, w.ptr, s.ptr)
           END AS root_token,
           CASE
               WHEN coalesce(w.kind, s.kind) = 1 THEN coalesce(w.hops, s.hops)
               -- the missing token is the root itself: depth is still known (it is depth 0)
               WHEN coalesce(w.kind, s.kind) = 2 AND coalesce(w.top, s.top, w.ptr, s.ptr) = coalesce(w.ptr, s.ptr)
                   THEN coalesce(w.hops, s.hops)
           END AS depth
    FROM _chain_start AS s
    LEFT JOIN _chain_walk AS w ON w.token = s.token AND s.kind = 0
)
WINDOW chain AS (PARTITION BY root_token ORDER BY created_at NULLS LAST, token);

-- rerun_chains: one row per application in `applications`, with its chain (CONTRACT §3).
--
-- From the DuckDB CLI, on a published home:
--   duckdb -readonly <home>/warehouse.duckdb -f sql/rerun_chains.sql
-- Reads the tables `applications` and `rerun_edges`; the last statement is the table.
--
-- How it scales. Under the 1 GB memory limit the cost is memory: temporary tables live in DuckDB's buffer
-- pool, and a column of 10M tokens is ~0.4 GB. So the temporary tables hold integers (and the tokens of
-- the roots and of a few odd rows), and the last statement reads the strings of the result from
-- `applications` again, joining the integers by id.
--
-- Ids. An application's id is hash(token), 64 bits, computed wherever a token is read: the application's
-- token, an edge's parent_token, a rerun_previous_token. So a parent's id needs no lookup; only the
-- child's edge is joined, on the exact child token. An id stands for one token unless two tokens share a
-- hash, and that is checked, not assumed (the run fails if it happens): the ids of the applications are
-- distinct, and no token named as a parent (by an edge or a rerun_previous_token) but missing from
-- `applications` (found by an exact join) has an application's id. Hence a parent hash equal to an
-- application's id is that application, and equal to the hash of the rerun_previous_token means that
-- token (own_prev: the last statement prints the rerun_previous_token as the previous token).
--
-- The walk to the root works on ids. The state of an application:
--   kind  0 still walking, 1 reached a root in the export, 2 reached the last application of the export
--         on its path (its parent is missing)
--   ptr   while walking: the id of an ancestor `hops` up; once resolved: the root (1) or that last one (2)
--   top   the id of the highest application on the walked path that reports a rerun_root_token (the
--         contract's "last application reached that has one"), NULL when none does
-- The inner nodes (applications that have a parent and are one) look three hops up, then every
-- application takes over its parent's state: four hops up, with one join of the big table. Only the
-- rest (deeper chains and cycles, usually few) enters a recursive CTE, with the rows they point at; it
-- does pointer jumping: each round an application still walking takes over its pointer's state (the
-- paths compose), so a chain 100,000 deep takes ~17 rounds, and USING KEY carries only the rows that
-- changed into the next round. An application still walking after ceil(log2(n)) + 2 rounds never
-- reaches a root: it is in a cycle or under one.
--
-- attempt is the rank by created_at in the chain (one window over integers, partitioned by the chain's
-- key); only applications tied on created_at with another of their chain are ranked again by token.

-- Tokens named as a parent that are not applications of the export (usually few), by an exact join.
CREATE OR REPLACE TEMP TABLE _chain_missing AS
SELECT hash(u.token) AS id
FROM (SELECT parent_token AS token FROM rerun_edges UNION SELECT rerun_previous_token FROM applications) AS u
ANTI JOIN applications AS a ON a.journey_application_token = u.token
WHERE u.token IS NOT NULL;

-- One row per application. pid: the parent's id; NULL for a root (has_parent false) or for a parent
-- missing from the export. own_prev: the parent (in the export) is the rerun_previous_token.
CREATE OR REPLACE TEMP TABLE _chain_links AS
SELECT id, pid, has_parent, coalesce(pid = hash(previous) AND previous IS NOT NULL, false) AS own_prev,
       reports, created_at
FROM (
    SELECT hash(a.journey_application_token) AS id,
           CASE WHEN e.ph NOT IN (SELECT id FROM _chain_missing) THEN e.ph END AS pid,
           e.ph IS NOT NULL AS has_parent,
           a.rerun_previous_token AS previous,
           nullif(a.rerun_root_token, '') IS NOT NULL AS reports,
           a.created_at
    FROM applications AS a
    LEFT JOIN (SELECT child_token, hash(parent_token) AS ph FROM rerun_edges WHERE parent_token IS NOT NULL)
              AS e ON e.child_token = a.journey_application_token
);

-- The collision check (see the top). It also fails for a token twice in `applications` or a child with
-- two edges, which the contract rules out.
SET VARIABLE rerun_chain_ids = (
    SELECT CASE
               WHEN count(DISTINCT id) = count(*)
                AND NOT EXISTS (SELECT 1 FROM _chain_missing WHERE id IN (SELECT id FROM _chain_links))
               THEN count(*)
               ELSE error('rerun_chains: two tokens share a hash (or a token is twice in applications, '
                          || 'or an application has two rerun_edges); ids from hash() cannot tell them apart')
           END
    FROM _chain_links);

-- The applications that have a parent and are one (c: the inner nodes of the trees, usually a
-- minority), each with its state after looking three hops up (itself x, its parent y, its grandparent
-- z). An ancestor in the export but not in c is a root.
CREATE OR REPLACE TEMP TABLE _chain_inner AS
WITH c AS (
    SELECT id, pid, reports FROM _chain_links WHERE has_parent AND id IN (SELECT pid FROM _chain_links)
)
SELECT x.id,
       CASE
           WHEN x.pid IS NULL THEN 2
           WHEN y.id IS NULL THEN 1
           WHEN y.pid IS NULL THEN 2
           WHEN z.id IS NULL THEN 1
           WHEN z.pid IS NULL THEN 2
           ELSE 0
       END::TINYINT AS kind,
       CASE
           WHEN x.pid IS NULL THEN x.id
           WHEN y.id IS NULL OR y.pid IS NULL THEN x.pid
           WHEN z.id IS NULL OR z.pid IS NULL THEN y.pid
           ELSE z.pid
       END AS ptr,
       CASE
           WHEN x.pid IS NULL THEN 0
           WHEN y.id IS NULL OR y.pid IS NULL THEN 1
           WHEN z.id IS NULL OR z.pid IS NULL THEN 2
           ELSE 3
       END::INTEGER AS hops,
       coalesce(CASE WHEN z.reports THEN z.id END, CASE WHEN y.reports THEN y.id END,
                CASE WHEN x.reports THEN x.id END) AS top
FROM c AS x
LEFT JOIN c AS y ON y.id = x.pid
LEFT JOIN c AS z ON z.id = y.pid;

-- Every application's state after looking up to four hops up: one hop to its parent p, then p's state
-- (a parent in the export but not in _chain_inner is a root).
CREATE OR REPLACE TEMP TABLE _chain_state AS
SELECT n.id, n.created_at, n.has_parent, n.own_prev,
       CASE
           WHEN NOT n.has_parent THEN 1
           WHEN n.pid IS NULL THEN 2
           WHEN p.id IS NULL THEN 1
           ELSE p.kind
       END::TINYINT AS kind,
       CASE
           WHEN NOT n.has_parent OR n.pid IS NULL THEN n.id
           WHEN p.id IS NULL THEN n.pid
           ELSE p.ptr
       END AS ptr,
       CASE
           WHEN NOT n.has_parent OR n.pid IS NULL THEN 0
           WHEN p.id IS NULL THEN 1
           ELSE p.hops + 1
       END::INTEGER AS hops,
       coalesce(p.top, CASE WHEN n.reports THEN n.id END) AS top
FROM _chain_links AS n
LEFT JOIN _chain_inner AS p ON p.id = n.pid;
DROP TABLE _chain_links;
DROP TABLE _chain_inner;

-- The applications still walking, and the ones they point at.
CREATE OR REPLACE TEMP TABLE _chain_hard AS
SELECT id, kind, ptr, hops, top FROM _chain_state
WHERE kind = 0 OR id IN (SELECT ptr FROM _chain_state WHERE kind = 0);

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
DROP TABLE _chain_hard;

UPDATE _chain_state AS s SET kind = w.kind, ptr = w.ptr, hops = w.hops, top = w.top
FROM _chain_walk AS w WHERE w.id = s.id AND s.kind = 0 AND w.kind <> 0;
DROP TABLE _chain_walk;

-- Walks that stepped out of the export (kind 2, usually few): the root is the reported root of `top`,
-- else the missing parent itself; only then is the depth known (the missing token is the root). The
-- chain's key is the root's id when the root is in the export, else the hash of the root token.
CREATE OR REPLACE TEMP TABLE _chain_outside AS
WITH o AS (SELECT id, ptr, top FROM _chain_state WHERE kind = 2),
missing AS (
    SELECT hash(a.journey_application_token) AS id, e.parent_token
    FROM applications AS a JOIN rerun_edges AS e ON e.child_token = a.journey_application_token
    WHERE hash(a.journey_application_token) IN (SELECT ptr FROM o)
),
tops AS (
    SELECT hash(journey_application_token) AS id, nullif(rerun_root_token, '') AS reported_root
    FROM applications WHERE hash(journey_application_token) IN (SELECT top FROM o)
),
r AS (
    SELECT o.id, m.parent_token AS missing, coalesce(t.reported_root, m.parent_token) AS root
    FROM o JOIN missing AS m ON m.id = o.ptr LEFT JOIN tops AS t ON t.id = o.top
),
x AS (
    SELECT journey_application_token AS token, hash(journey_application_token) AS id
    FROM applications WHERE journey_application_token IN (SELECT root FROM r)
)
SELECT r.id, r.root, r.root = r.missing AS root_is_missing, x.id IS NOT NULL AS root_in_export,
       coalesce(x.id, hash(r.root)) AS chain
FROM r LEFT JOIN x ON x.token = r.root;

-- The collision check for roots outside the export: their keys differ from each other and from all ids.
SET VARIABLE rerun_chain_outside = (
    SELECT CASE
               WHEN count(DISTINCT root) = count(DISTINCT chain)
                AND NOT EXISTS (SELECT 1 FROM _chain_state
                                WHERE id IN (SELECT chain FROM _chain_outside WHERE NOT root_in_export))
               THEN true
               ELSE error('rerun_chains: two tokens share a hash; ids from hash() cannot tell them apart')
           END
    FROM _chain_outside WHERE NOT root_in_export);

UPDATE _chain_state AS s SET ptr = o.chain, hops = CASE WHEN o.root_is_missing THEN s.hops + 1 END
FROM _chain_outside AS o WHERE o.id = s.id;
ALTER TABLE _chain_state DROP COLUMN top;

-- root_id: the chain's key; attempt: the rank by created_at in the chain; tied: another application of
-- the chain has the same created_at (the token decides between them, below). An application alone in its
-- chain and not a rerun of anything (most of them, in a real export) gets no row: the last statement
-- knows its values.
CREATE OR REPLACE TEMP TABLE _chain_ranked AS
SELECT *
FROM (
    SELECT id, kind, ptr AS root_id, hops AS depth, has_parent, own_prev,
           (rank() OVER w)::INTEGER AS attempt,
           (count(*) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))::INTEGER
               AS chain_size,
           count(*) OVER (w RANGE BETWEEN CURRENT ROW AND CURRENT ROW) > 1 AS tied
    FROM _chain_state
    WHERE kind <> 0
    WINDOW w AS (PARTITION BY ptr ORDER BY created_at NULLS LAST)
)
WHERE has_parent OR chain_size > 1
UNION ALL
SELECT id, kind, NULL, NULL, has_parent, own_prev, NULL, NULL, false FROM _chain_state WHERE kind = 0;
DROP TABLE _chain_state;

-- The tokens needed besides the application's own: roots of chains with reruns, applications tied on
-- created_at, applications whose parent is not their rerun_previous_token.
CREATE OR REPLACE TEMP TABLE _chain_tokens AS
SELECT r.id, a.journey_application_token AS token, a.created_at,
       r.root_id = r.id AND r.chain_size > 1 AS chain_root
FROM applications AS a
JOIN (SELECT * FROM _chain_ranked
      WHERE (root_id = id AND chain_size > 1) OR tied OR (has_parent AND NOT own_prev)) AS r
  ON r.id = hash(a.journey_application_token);

-- Ties on created_at in a chain (usually none): the token orders them, from the rank they share.
UPDATE _chain_ranked AS k SET attempt = x.attempt
FROM (SELECT r.id,
             r.attempt - 1 + row_number() OVER (PARTITION BY r.root_id, t.created_at ORDER BY t.token) AS attempt
      FROM _chain_ranked AS r JOIN _chain_tokens AS t USING (id)
      WHERE r.tied) AS x
WHERE x.id = k.id;

-- What is unusual about an application (usually few rows): the parent token when it is not the
-- rerun_previous_token, the root outside the export.
CREATE OR REPLACE TEMP TABLE _chain_special AS
SELECT id, max(previous_token) AS previous_token, max(root) AS outside_root,
       bool_or(root_in_export) AS root_in_export
FROM (
    SELECT t.id, e.parent_token AS previous_token, NULL AS root, NULL::BOOLEAN AS root_in_export
    FROM _chain_tokens AS t JOIN rerun_edges AS e ON e.child_token = t.token
    WHERE t.id IN (SELECT id FROM _chain_ranked WHERE has_parent AND NOT own_prev)
    UNION ALL
    SELECT id, NULL, root, root_in_export FROM _chain_outside
)
GROUP BY id;

-- Only the roots' tokens stay for the last statement.
CREATE OR REPLACE TEMP TABLE _chain_root_tokens AS SELECT id, token FROM _chain_tokens WHERE chain_root;
DROP TABLE _chain_tokens;

SELECT journey_application_token, previous_token, root_token, depth, attempt, chain_size, is_root,
       attempt = chain_size AS is_latest,
       CASE
           WHEN kind = 0 THEN 'cycle'
           WHEN depth IS NULL THEN 'broken_chain'
           WHEN reported_root <> root_token THEN 'root_conflict'
           WHEN kind = 2 AND NOT root_in_export THEN 'root_outside_export'
           WHEN is_rerun AND NOT has_parent THEN 'unlinked_rerun'
           ELSE 'complete'
       END AS lineage_status
FROM (
    -- no row in _chain_ranked (r.id NULL): the application is a root without reruns, a chain of one
    SELECT a.journey_application_token, a.is_rerun, nullif(a.rerun_root_token, '') AS reported_root,
           coalesce(r.kind, 1) AS kind, coalesce(r.has_parent, false) AS has_parent, x.root_in_export,
           CASE WHEN r.own_prev THEN a.rerun_previous_token WHEN r.has_parent THEN x.previous_token END
               AS previous_token,
           CASE
               WHEN r.id IS NULL OR r.root_id = r.id THEN a.journey_application_token
               WHEN r.kind = 2 THEN x.outside_root  -- its walk stepped out of the export
               WHEN r.depth = 1 AND r.own_prev THEN a.rerun_previous_token  -- the parent is the root
               ELSE t.token
           END AS root_token,
           CASE WHEN r.id IS NULL THEN 0 ELSE r.depth END::BIGINT AS depth,
           CASE WHEN r.id IS NULL THEN 1 ELSE r.attempt END::BIGINT AS attempt,
           CASE WHEN r.id IS NULL THEN 1 ELSE r.chain_size END::BIGINT AS chain_size,
           r.id IS NULL OR coalesce(r.root_id = r.id, false) AS is_root
    FROM applications AS a
    LEFT JOIN _chain_ranked AS r ON r.id = hash(a.journey_application_token)
    LEFT JOIN _chain_root_tokens AS t
           ON t.id = CASE WHEN r.kind = 1 AND r.root_id <> r.id AND NOT (r.depth = 1 AND r.own_prev)
                          THEN r.root_id END
    LEFT JOIN _chain_special AS x ON x.id = r.id
)

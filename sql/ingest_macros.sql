-- Helpers for reading export fields that arrive as JSON values of any type (CONTRACT §2).
-- A field of an unexpected type becomes NULL or text; only the required types make a reject.
CREATE OR REPLACE TEMP MACRO jpresent(j) AS coalesce(json_type(j) <> 'NULL', false);
CREATE OR REPLACE TEMP MACRO jkind(j) AS CASE json_type(j)
    WHEN 'VARCHAR' THEN 'a string' WHEN 'BOOLEAN' THEN 'a boolean' WHEN 'DOUBLE' THEN 'a decimal number'
    WHEN 'OBJECT' THEN 'an object' WHEN 'ARRAY' THEN 'an array' ELSE 'a number' END;
-- Text whatever the JSON type: strings unquoted, anything else as its JSON text.
CREATE OR REPLACE TEMP MACRO jtext(j) AS CASE WHEN jpresent(j) THEN j ->> '$' END;
-- Booleans must be JSON booleans; "true" as a string is NULL (docs/export-shapes.md).
CREATE OR REPLACE TEMP MACRO jbool(j) AS CASE WHEN json_type(j) = 'BOOLEAN' THEN (j ->> '$') = 'true' END;
CREATE OR REPLACE TEMP MACRO jint(j) AS
    CASE WHEN json_type(j) IN ('BIGINT', 'UBIGINT') THEN TRY_CAST(j ->> '$' AS BIGINT) END;
-- Epoch milliseconds of the years 1..9999: what a TIMESTAMP WITH TIME ZONE can hold.
CREATE OR REPLACE TEMP MACRO ms_in_range(v) AS v BETWEEN -62135596800000 AND 253402300799999;
CREATE OR REPLACE TEMP MACRO jms(j) AS CASE WHEN ms_in_range(jint(j)) THEN jint(j) END;
-- Why a required epoch-ms field is unusable; NULL when it is fine (missing or null is fine).
CREATE OR REPLACE TEMP MACRO ms_problem(j) AS CASE
    WHEN NOT jpresent(j) THEN NULL
    -- an integer too large for 64 bits arrives as a JSON number DuckDB calls DOUBLE
    WHEN json_type(j) = 'DOUBLE' AND regexp_full_match(j::VARCHAR, '-?[0-9]+')
        THEN 'is an integer out of range for epoch milliseconds'
    WHEN json_type(j) NOT IN ('BIGINT', 'UBIGINT') THEN 'is not an integer (epoch ms) but ' || jkind(j)
    WHEN NOT coalesce(ms_in_range(jint(j)), false) THEN 'is an integer out of range for epoch milliseconds'
    END;
-- Why a journey_application_token is unusable; NULL when it is a non-empty string.
CREATE OR REPLACE TEMP MACRO token_problem(j) AS CASE
    WHEN NOT jpresent(j) THEN 'is missing'
    WHEN json_type(j) <> 'VARCHAR' THEN 'is not a string but ' || jkind(j)
    WHEN trim(j ->> '$') = '' THEN 'is empty'
    END;
-- An event (snapshot events[] item, webhook `data`, bare event) as the typed row the tables keep.
-- Empty tokens are no tokens: "" and null must not make two events of one.
CREATE OR REPLACE TEMP MACRO event_row(e) AS {
    'journey_application_event_token': nullif(e.journey_application_event_token, ''),
    'type': e.type,
    'ts': jms(e."timestamp"),
    'outcome': e.outcome,
    'entity_token': nullif(e.entity_token, ''),
    'entity_application_token': nullif(e.entity_application_token, ''),
    'rerun_journey_application_token': nullif(e.rerun_journey_application_token, ''),
    'node_type': coalesce(e._embedded.node.type, e.node_type)
};

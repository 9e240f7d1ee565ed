-- The winning snapshot of each application (CONTRACT §3): the greatest updated_at, then the one with
-- more events, then the later source_file in sort order, then the later record in that file.
-- Input: `staged_records` (source_file + the classified records of every file in the landing folder).
SELECT *
FROM staged_records
WHERE kind = 'snapshot'
QUALIFY row_number() OVER (
    PARTITION BY journey_application_token
    ORDER BY updated_at DESC NULLS LAST, coalesce(len(events), 0) DESC, source_file DESC, rec DESC
) = 1

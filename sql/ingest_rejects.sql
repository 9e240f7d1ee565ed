-- rejects: one row per record (or whole file) that could not be read (CONTRACT §3).
-- Input: `staged_rejects` (source_file + the reject parts of every file in the landing folder) and the
-- variable quarantine_root (the home's quarantine folder).
SELECT
    source_file,
    record_number,
    error,
    CASE WHEN quarantine_name IS NOT NULL
         THEN getvariable('quarantine_root') || '/' || quarantine_name END AS quarantine_path
FROM staged_rejects
ORDER BY source_file, record_number NULLS FIRST

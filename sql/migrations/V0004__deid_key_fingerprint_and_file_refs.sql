-- De-identification you can audit: every load run records which key it used (a fingerprint,
-- never the key) and the profile and options in force; raw paths leave the core database.

ALTER TABLE {{ db }}.load_runs ADD COLUMNS (
  `key_fingerprint` STRING COMMENT 'keyed hash of a constant: which key a run used, never the key',
  `deid_method` STRING COMMENT 'the de-identification profile and options in force'
);

-- The real path or URI behind each path-free reference (mi-file:<keyed hash>) that load_runs,
-- load_errors and lineage events hold when de-identified: paths often hold PatientIDs and dates.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ phi_db }}.file_refs (
  `ref` STRING COMMENT 'the mi-file: reference written in the core database',
  `uri` STRING COMMENT 'the real path or URI',
  `kind` STRING COMMENT 'source (a load argument) or file (an input file)',
  `run_id` STRING,
  `recorded_at` TIMESTAMP
)
STORED AS PARQUET
LOCATION '{{ storage }}/{{ phi_db }}/file_refs';

-- For operators with access to the PHI database: load_errors with the real paths put back.
CREATE VIEW IF NOT EXISTS {{ phi_db }}.load_errors_located AS
SELECT e.run_id, coalesce(p.uri, e.path) AS path, e.error_class, e.message, e.file_size,
       coalesce(f.uri, e.first_path) AS first_path, e.recorded_at, e.severity
FROM {{ db }}.load_errors e
LEFT JOIN (SELECT DISTINCT ref, uri FROM {{ phi_db }}.file_refs) p ON p.ref = e.path
LEFT JOIN (SELECT DISTINCT ref, uri FROM {{ phi_db }}.file_refs) f ON f.ref = e.first_path;

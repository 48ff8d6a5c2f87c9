-- V0004__deid_key_fingerprint_and_file_refs.sql for spark
-- statement 1, line 4
ALTER TABLE mi.load_runs ADD COLUMNS (
  `key_fingerprint` STRING COMMENT 'keyed hash of a constant: which key a run used, never the key',
  `deid_method` STRING COMMENT 'the de-identification profile and options in force'
);
-- statement 2, line 11
CREATE EXTERNAL TABLE IF NOT EXISTS mi_phi.file_refs (
  `ref` STRING COMMENT 'the mi-file: reference written in the core database',
  `uri` STRING COMMENT 'the real path or URI',
  `kind` STRING COMMENT 'source (a load argument) or file (an input file)',
  `run_id` STRING,
  `recorded_at` TIMESTAMP
)
STORED AS PARQUET
LOCATION 'hdfs://namenode:8020/warehouse/mi/mi_phi/file_refs';
-- statement 3, line 22
CREATE VIEW IF NOT EXISTS mi_phi.load_errors_located AS
SELECT e.run_id, coalesce(p.uri, e.path) AS path, e.error_class, e.message, e.file_size,
       coalesce(f.uri, e.first_path) AS first_path, e.recorded_at, e.severity
FROM mi.load_errors e
LEFT JOIN (SELECT DISTINCT ref, uri FROM mi_phi.file_refs) p ON p.ref = e.path
LEFT JOIN (SELECT DISTINCT ref, uri FROM mi_phi.file_refs) f ON f.ref = e.first_path;

-- V0003__run_results.sql for hive
-- statement 1, line 2
CREATE EXTERNAL TABLE IF NOT EXISTS mi.run_results (
  `run_id` STRING,
  `model` STRING,
  `status` STRING COMMENT 'success, error or skipped (an upstream model failed)',
  `rows` BIGINT,
  `seconds` DOUBLE,
  `checksum` STRING COMMENT 'sha256 of the compiled SQL',
  `message` STRING COMMENT 'the engine error, for failed models',
  `materialized` STRING,
  `started_at` TIMESTAMP,
  `engine` STRING
)
STORED AS PARQUET
LOCATION 'hdfs://namenode:8020/warehouse/mi/mi/run_results';

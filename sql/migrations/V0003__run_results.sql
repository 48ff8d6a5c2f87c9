-- One row per model per `mi-warehouse run`: what was built, how, and how it ended.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ db }}.run_results (
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
LOCATION '{{ storage }}/{{ db }}/run_results';

{# Core schema of mi-warehouse. Rendered with Jinja: db, phi_db, storage, buckets and
   bucketing_version come from mi-warehouse.toml / MIW_* variables; target.engine is 'hive' or 'spark'. #}
-- Core schema of mi-warehouse.
-- Every table is EXTERNAL with an explicit LOCATION under the storage root, so that any Hive
-- engine reads the same files and dropping a table never deletes data. Statements are idempotent.

CREATE DATABASE IF NOT EXISTS {{ db }}
  COMMENT 'mi-warehouse: de-identified DICOM metadata, predictions, lineage'
  LOCATION '{{ storage }}/{{ db }}';

-- Re-identifying data lives apart, so that a Hive deployment can grant it to a restricted role.
CREATE DATABASE IF NOT EXISTS {{ phi_db }}
  COMMENT 'mi-warehouse: re-identification maps (PHI); restricted'
  LOCATION '{{ storage }}/{{ phi_db }}';

-- One row per DICOM instance (image). Written by `mi-warehouse load` as Parquet files named the way
-- Hive maps a file to its bucket, rows hashed on patient_key and sorted by (patient_key, study_uid).
-- `rows` and `columns` are keywords in HiveQL: quote them with backticks in queries.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ db }}.dicom_metadata (
  `patient_key` STRING COMMENT 'keyed pseudonym of PatientID',
  `study_uid` STRING,
  `series_uid` STRING,
  `sop_instance_uid` STRING,
  `sop_class_uid` STRING,
  `study_date` DATE COMMENT 'shifted per patient when de-identified',
  `study_time` STRING,
  `accession_key` STRING COMMENT 'keyed pseudonym of AccessionNumber',
  `body_part` STRING,
  `view_position` STRING,
  `laterality` STRING,
  `series_number` INT,
  `instance_number` INT,
  `study_description` STRING,
  `series_description` STRING,
  `manufacturer` STRING,
  `manufacturer_model` STRING,
  `institution_key` STRING COMMENT 'keyed pseudonym of InstitutionName',
  `patient_sex` STRING,
  `patient_age_years` INT,
  `rows` INT,
  `columns` INT,
  `bits_stored` INT,
  `photometric_interpretation` STRING,
  `pixel_spacing` ARRAY<DOUBLE>,
  `slice_thickness` DOUBLE,
  `number_of_frames` INT,
  `transfer_syntax_uid` STRING,
  `burned_in_annotation` STRING,
  `image_uri` STRING COMMENT 'file URI; when de-identified mi-image:<SOPInstanceUID>, see {{ phi_db }}.image_locations',
  `file_size` BIGINT,
  `header_json` STRING COMMENT 'whole header, DICOM JSON model (PS3.18 F.2), de-identified',
  `load_run_id` STRING
)
COMMENT 'DICOM headers, one row per instance'
PARTITIONED BY (`study_year` INT, `study_month` INT, `modality` STRING)
CLUSTERED BY (`patient_key`) SORTED BY (`patient_key` ASC, `study_uid` ASC) INTO {{ buckets }} BUCKETS
STORED AS PARQUET
LOCATION '{{ storage }}/{{ db }}/dicom_metadata'
TBLPROPERTIES ('bucketing_version' = '{{ bucketing_version }}', 'parquet.compression' = 'SNAPPY');

-- One row per load run: the accounting of every file seen.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ db }}.load_runs (
  `run_id` STRING,
  `started_at` TIMESTAMP,
  `finished_at` TIMESTAMP,
  `sources` STRING,
  `files_seen` BIGINT,
  `files_loaded` BIGINT,
  `files_skipped` BIGINT COMMENT 'already loaded by an earlier run',
  `duplicates` BIGINT,
  `errors` BIGINT COMMENT 'files not loaded: their rows are in load_errors',
  `warnings` BIGINT COMMENT 'values stored as NULL in files that loaded',
  `bytes` BIGINT,
  `seconds` DOUBLE,
  `status` STRING,
  `deid` STRING,
  `host` STRING,
  `loader_version` STRING
)
STORED AS PARQUET
LOCATION '{{ storage }}/{{ db }}/load_runs';

-- Every input file that did not become a row of dicom_metadata (severity 'error'), with its
-- reason; and values that did not parse in files that loaded (severity 'warning', stored NULL).
CREATE EXTERNAL TABLE IF NOT EXISTS {{ db }}.load_errors (
  `run_id` STRING,
  `path` STRING,
  `error_class` STRING COMMENT 'not_dicom, truncated, invalid_value, duplicate, ...',
  `message` STRING,
  `file_size` BIGINT,
  `first_path` STRING COMMENT 'for duplicates: the file already loaded with the same SOPInstanceUID',
  `recorded_at` TIMESTAMP,
  `severity` STRING COMMENT 'error: file not loaded; warning: loaded, value stored NULL'
)
STORED AS PARQUET
LOCATION '{{ storage }}/{{ db }}/load_errors';

-- The model registry. Versions are immutable: (name, version) has exactly one sha256.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ db }}.model_versions (
  `name` STRING,
  `version` STRING,
  `sha256` STRING,
  `uri` STRING,
  `opset` INT,
  `input_shape` ARRAY<INT>,
  `preprocessing` STRING COMMENT 'JSON: target size, window or percentile scaling, normalisation, layout',
  `labels` ARRAY<STRING>,
  `decision_threshold` DOUBLE,
  `training_cohort` STRING,
  `training_run` STRING,
  `card` STRING COMMENT 'the model card, JSON',
  `registered_by` STRING,
  `registered_at` TIMESTAMP,
  `parent_version` STRING
)
STORED AS PARQUET
LOCATION '{{ storage }}/{{ db }}/model_versions';

CREATE EXTERNAL TABLE IF NOT EXISTS {{ db }}.inference_runs (
  `run_id` STRING,
  `model_name` STRING,
  `model_version` STRING,
  `model_sha256` STRING,
  `input_table` STRING,
  `partitions_read` STRING,
  `input_rows` BIGINT,
  `rows_ok` BIGINT,
  `rows_error` BIGINT,
  `provider` STRING,
  `host` STRING,
  `started_at` TIMESTAMP,
  `finished_at` TIMESTAMP,
  `status` STRING,
  `error` STRING
)
STORED AS PARQUET
LOCATION '{{ storage }}/{{ db }}/inference_runs';

CREATE EXTERNAL TABLE IF NOT EXISTS {{ db }}.predictions (
  `sop_instance_uid` STRING,
  `predicted_label` STRING,
  `probability` DOUBLE,
  `scores` ARRAY<DOUBLE>,
  `status` STRING COMMENT 'ok or error',
  `error` STRING,
  `latency_ms` DOUBLE,
  `provider` STRING,
  `run_id` STRING,
  `predicted_at` TIMESTAMP
)
PARTITIONED BY (`model_name` STRING, `model_version` STRING)
STORED AS PARQUET
LOCATION '{{ storage }}/{{ db }}/predictions';

-- Ground truth, one row per image and label source.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ db }}.labels (
  `sop_instance_uid` STRING,
  `study_uid` STRING,
  `label` STRING,
  `label_value` INT,
  `source` STRING,
  `loaded_at` TIMESTAMP
)
STORED AS PARQUET
LOCATION '{{ storage }}/{{ db }}/labels';

-- The re-identification map, written only with `mi-warehouse load --keep-phi-map`.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ phi_db }}.patient_map (
  `patient_key` STRING,
  `patient_id` STRING,
  `patient_name` STRING,
  `date_shift_days` INT,
  `load_run_id` STRING,
  `recorded_at` TIMESTAMP
)
STORED AS PARQUET
LOCATION '{{ storage }}/{{ phi_db }}/patient_map';

-- Where each image's file is. Paths often hold PHI (/<PatientID>/<StudyDate>/...), so they live
-- here and not in dicom_metadata; inference joins this table to read pixels.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ phi_db }}.image_locations (
  `sop_instance_uid` STRING,
  `image_uri` STRING,
  `file_size` BIGINT,
  `load_run_id` STRING
)
STORED AS PARQUET
LOCATION '{{ storage }}/{{ phi_db }}/image_locations';

-- V0001__create_core_tables.sql for hive
-- statement 1, line 6
CREATE DATABASE IF NOT EXISTS mi
  COMMENT 'mi-warehouse: de-identified DICOM metadata, predictions, lineage'
  LOCATION 'hdfs://namenode:8020/warehouse/mi/mi';
-- statement 2, line 11
CREATE DATABASE IF NOT EXISTS mi_phi
  COMMENT 'mi-warehouse: re-identification maps (PHI); restricted'
  LOCATION 'hdfs://namenode:8020/warehouse/mi/mi_phi';
-- statement 3, line 18
CREATE EXTERNAL TABLE IF NOT EXISTS mi.dicom_metadata (
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
  `image_uri` STRING COMMENT 'file URI; when de-identified mi-image:<SOPInstanceUID>, see mi_phi.image_locations',
  `file_size` BIGINT,
  `header_json` STRING COMMENT 'whole header, DICOM JSON model (PS3.18 F.2), de-identified',
  `load_run_id` STRING
)
COMMENT 'DICOM headers, one row per instance'
PARTITIONED BY (`study_year` INT, `study_month` INT, `modality` STRING)
CLUSTERED BY (`patient_key`) SORTED BY (`patient_key` ASC, `study_uid` ASC) INTO 8 BUCKETS
STORED AS PARQUET
LOCATION 'hdfs://namenode:8020/warehouse/mi/mi/dicom_metadata'
TBLPROPERTIES ('bucketing_version' = '1', 'parquet.compression' = 'SNAPPY');
-- statement 4, line 61
CREATE EXTERNAL TABLE IF NOT EXISTS mi.load_runs (
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
LOCATION 'hdfs://namenode:8020/warehouse/mi/mi/load_runs';
-- statement 5, line 84
CREATE EXTERNAL TABLE IF NOT EXISTS mi.load_errors (
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
LOCATION 'hdfs://namenode:8020/warehouse/mi/mi/load_errors';
-- statement 6, line 98
CREATE EXTERNAL TABLE IF NOT EXISTS mi.model_versions (
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
LOCATION 'hdfs://namenode:8020/warehouse/mi/mi/model_versions';
-- statement 7, line 118
CREATE EXTERNAL TABLE IF NOT EXISTS mi.inference_runs (
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
LOCATION 'hdfs://namenode:8020/warehouse/mi/mi/inference_runs';
-- statement 8, line 138
CREATE EXTERNAL TABLE IF NOT EXISTS mi.predictions (
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
LOCATION 'hdfs://namenode:8020/warehouse/mi/mi/predictions';
-- statement 9, line 155
CREATE EXTERNAL TABLE IF NOT EXISTS mi.labels (
  `sop_instance_uid` STRING,
  `study_uid` STRING,
  `label` STRING,
  `label_value` INT,
  `source` STRING,
  `loaded_at` TIMESTAMP
)
STORED AS PARQUET
LOCATION 'hdfs://namenode:8020/warehouse/mi/mi/labels';
-- statement 10, line 167
CREATE EXTERNAL TABLE IF NOT EXISTS mi_phi.patient_map (
  `patient_key` STRING,
  `patient_id` STRING,
  `patient_name` STRING,
  `date_shift_days` INT,
  `load_run_id` STRING,
  `recorded_at` TIMESTAMP
)
STORED AS PARQUET
LOCATION 'hdfs://namenode:8020/warehouse/mi/mi_phi/patient_map';
-- statement 11, line 180
CREATE EXTERNAL TABLE IF NOT EXISTS mi_phi.image_locations (
  `sop_instance_uid` STRING,
  `image_uri` STRING,
  `file_size` BIGINT,
  `load_run_id` STRING
)
STORED AS PARQUET
LOCATION 'hdfs://namenode:8020/warehouse/mi/mi_phi/image_locations';

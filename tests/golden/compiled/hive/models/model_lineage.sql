-- model_lineage: view mi.model_lineage, from models/lineage/model_lineage.sql, compiled for hive
SELECT
  p.sop_instance_uid,
  p.model_name,
  p.model_version,
  p.status,
  p.predicted_label,
  p.probability,
  p.predicted_at,
  p.run_id,
  r.model_sha256 AS run_model_sha256,
  v.sha256 AS registry_sha256,
  CASE WHEN r.model_sha256 IS NULL OR v.sha256 IS NULL THEN NULL
       WHEN r.model_sha256 = v.sha256 THEN TRUE ELSE FALSE END AS sha256_matches,
  v.parent_version,
  v.training_cohort,
  v.training_run,
  r.input_table AS run_input_table,
  r.partitions_read AS run_partitions_read,
  r.provider AS run_provider,
  r.started_at AS run_started_at,
  r.status AS run_status,
  concat('study_year=', CAST(m.study_year AS STRING), '/study_month=', CAST(m.study_month AS STRING),
         '/modality=', m.modality) AS image_partition,
  CASE WHEN r.partitions_read IS NULL OR m.sop_instance_uid IS NULL THEN NULL
       WHEN instr(r.partitions_read, concat('"study_year=', CAST(m.study_year AS STRING), '/study_month=',
                  CAST(m.study_month AS STRING), '/modality=', m.modality, '"')) > 0 THEN TRUE
       ELSE FALSE END AS image_partition_read
FROM `mi`.`predictions` p
LEFT JOIN (
  SELECT run_id, model_sha256, input_table, partitions_read, provider, started_at, status
  FROM (
    SELECT run_id, model_sha256, input_table, partitions_read, provider, started_at, status,
           row_number() OVER (PARTITION BY run_id ORDER BY started_at DESC) AS k
    FROM `mi`.`inference_runs`
  ) ir
  WHERE k = 1
) r ON r.run_id = p.run_id
LEFT JOIN (
  SELECT name, version, sha256, parent_version, training_cohort, training_run
  FROM (
    SELECT name, version, sha256, parent_version, training_cohort, training_run,
           row_number() OVER (PARTITION BY name, version ORDER BY registered_at) AS k
    FROM `mi`.`model_versions`
  ) mv
  WHERE k = 1
) v ON v.name = p.model_name AND v.version = p.model_version
LEFT JOIN (
  SELECT sop_instance_uid, study_year, study_month, modality
  FROM `mi`.`dicom_metadata`
) m ON m.sop_instance_uid = p.sop_instance_uid;

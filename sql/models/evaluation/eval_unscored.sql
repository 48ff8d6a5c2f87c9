{#-
  The cohort images a version did not score, one row per (model version, cohort, image): every
  labelled image of the cohort that has no valid prediction (see valid_prediction()) from a
  version that has predictions. status is 'error' when the version has prediction rows for the
  image but none valid (failed, NaN or out-of-range probability; error is the latest message),
  'unscored' when it has none. With eval_predictions this is the whole cohort, so the metric
  tables count n_scored + n_error + n_unscored and can score failures as wrong.
  Cohort 'all' holds every labelled image, so a version run on one modality only shows the
  others as unscored there: read coverage on the cohort the version was run on.
-#}
{{ config(materialized='table', tags=['evaluation']) }}
SELECT
  v.model_name,
  v.model_version,
  c.cohort,
  s.split,
  l.sop_instance_uid,
  m.patient_key,
  m.institution_key,
  m.manufacturer,
  l.label_value,
  {{ threshold_or_default('r') }} AS decision_threshold,
  CASE WHEN e.sop_instance_uid IS NOT NULL THEN 'error' ELSE 'unscored' END AS status,
  e.error
FROM (SELECT DISTINCT model_name, model_version FROM {{ source('mi', 'predictions') }}) v
CROSS JOIN ({{ eval_truth() }}
) l
JOIN (
  SELECT sop_instance_uid, patient_key, institution_key, manufacturer
  FROM {{ source('mi', 'dicom_metadata') }}
) m ON m.sop_instance_uid = l.sop_instance_uid
JOIN {{ ref('patient_split') }} s ON s.patient_key = m.patient_key
JOIN (
{{ eval_cohorts() }}
) c ON c.sop_instance_uid = l.sop_instance_uid
LEFT JOIN (
  SELECT DISTINCT model_name, model_version, sop_instance_uid
  FROM {{ source('mi', 'predictions') }}
  WHERE {{ valid_prediction() }}
) ok ON ok.model_name = v.model_name AND ok.model_version = v.model_version
    AND ok.sop_instance_uid = l.sop_instance_uid
LEFT JOIN (
  SELECT model_name, model_version, sop_instance_uid, error
  FROM (
    SELECT model_name, model_version, sop_instance_uid,
           coalesce(error, CASE WHEN status = 'ok' THEN 'probability missing, NaN or outside [0, 1]' END) AS error,
           row_number() OVER (PARTITION BY model_name, model_version, sop_instance_uid
                              ORDER BY predicted_at DESC, run_id DESC) AS recency
    FROM {{ source('mi', 'predictions') }}
  ) latest
  WHERE recency = 1
) e ON e.model_name = v.model_name AND e.model_version = v.model_version
   AND e.sop_instance_uid = l.sop_instance_uid
LEFT JOIN (
{{ version_thresholds() }}
) r ON r.name = v.model_name AND r.version = v.model_version
WHERE ok.sop_instance_uid IS NULL

{#-
  One row per (model version, cohort, image) to evaluate: the latest valid prediction of the
  version for the image (status 'ok', probability in [0, 1]; images without one are in
  eval_unscored), the image's ground truth (max label_value over its label rows, optionally of
  var('label_source') only), the version's decision_threshold from the registry
  (var('default_threshold', 0.5) when it has none), the patient's split and the image's site and
  manufacturer. Cohorts: 'all' (every labelled image with a prediction) and 'adult_chest_xr'
  (the images of cohort_adult_chest_xr).
-#}
{{ config(materialized='table', tags=['evaluation']) }}
SELECT
  p.model_name,
  p.model_version,
  c.cohort,
  s.split,
  p.sop_instance_uid,
  m.patient_key,
  m.study_uid,
  m.study_date,
  m.modality,
  m.institution_key,
  m.manufacturer,
  p.probability,
  l.label_value,
  {{ threshold_or_default('v') }} AS decision_threshold,
  CASE WHEN p.probability >= {{ threshold_or_default('v') }}
       THEN 1 ELSE 0 END AS predicted_positive,
  p.run_id,
  p.predicted_at
FROM (
  SELECT model_name, model_version, sop_instance_uid, probability, run_id, predicted_at
  FROM (
    SELECT model_name, model_version, sop_instance_uid, probability, run_id, predicted_at,
           row_number() OVER (PARTITION BY model_name, model_version, sop_instance_uid
                              ORDER BY predicted_at DESC, run_id DESC) AS recency
    FROM {{ source('mi', 'predictions') }}
    WHERE {{ valid_prediction() }}
  ) latest
  WHERE recency = 1
) p
JOIN ({{ eval_truth() }}
) l ON l.sop_instance_uid = p.sop_instance_uid
JOIN (
  SELECT sop_instance_uid, patient_key, study_uid, study_date, modality, institution_key, manufacturer
  FROM {{ source('mi', 'dicom_metadata') }}
) m ON m.sop_instance_uid = p.sop_instance_uid
JOIN {{ ref('patient_split') }} s ON s.patient_key = m.patient_key
JOIN (
{{ eval_cohorts() }}
) c ON c.sop_instance_uid = p.sop_instance_uid
LEFT JOIN (
{{ version_thresholds() }}
) v ON v.name = p.model_name AND v.version = p.model_version

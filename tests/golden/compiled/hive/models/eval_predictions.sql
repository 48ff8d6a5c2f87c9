-- eval_predictions: table mi.eval_predictions, from models/evaluation/eval_predictions.sql, compiled for hive
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
  coalesce(v.decision_threshold, CAST(0.5 AS DOUBLE)) AS decision_threshold,
  CASE WHEN p.probability >= coalesce(v.decision_threshold, CAST(0.5 AS DOUBLE))
       THEN 1 ELSE 0 END AS predicted_positive,
  p.run_id,
  p.predicted_at
FROM (
  SELECT model_name, model_version, sop_instance_uid, probability, run_id, predicted_at
  FROM (
    SELECT model_name, model_version, sop_instance_uid, probability, run_id, predicted_at,
           row_number() OVER (PARTITION BY model_name, model_version, sop_instance_uid
                              ORDER BY predicted_at DESC, run_id DESC) AS recency
    FROM `mi`.`predictions`
    WHERE status = 'ok' AND probability IS NOT NULL
      AND probability >= CAST(0 AS DOUBLE) AND probability <= CAST(1 AS DOUBLE)
  ) latest
  WHERE recency = 1
) p
JOIN (SELECT sop_instance_uid, max(label_value) AS label_value
    FROM `mi`.`labels`
    WHERE label_value IN (0, 1)
    GROUP BY sop_instance_uid
) l ON l.sop_instance_uid = p.sop_instance_uid
JOIN (
  SELECT sop_instance_uid, patient_key, study_uid, study_date, modality, institution_key, manufacturer
  FROM `mi`.`dicom_metadata`
) m ON m.sop_instance_uid = p.sop_instance_uid
JOIN `mi`.`patient_split` s ON s.patient_key = m.patient_key
JOIN (
SELECT sop_instance_uid, 'all' AS cohort FROM (SELECT sop_instance_uid, max(label_value) AS label_value
    FROM `mi`.`labels`
    WHERE label_value IN (0, 1)
    GROUP BY sop_instance_uid
  ) t
  UNION ALL
  SELECT sop_instance_uid, 'adult_chest_xr' AS cohort FROM `mi`.`cohort_adult_chest_xr`
) c ON c.sop_instance_uid = p.sop_instance_uid
LEFT JOIN (
SELECT name, version, max(decision_threshold) AS decision_threshold
  FROM `mi`.`model_versions`
  GROUP BY name, version
) v ON v.name = p.model_name AND v.version = p.model_version;

-- eval_unscored: table mi.eval_unscored, from models/evaluation/eval_unscored.sql, compiled for hive
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
  coalesce(r.decision_threshold, CAST(0.5 AS DOUBLE)) AS decision_threshold,
  CASE WHEN e.sop_instance_uid IS NOT NULL THEN 'error' ELSE 'unscored' END AS status,
  e.error
FROM (SELECT DISTINCT model_name, model_version FROM `mi`.`predictions`) v
CROSS JOIN (SELECT sop_instance_uid, max(label_value) AS label_value
    FROM `mi`.`labels`
    WHERE label_value IN (0, 1)
    GROUP BY sop_instance_uid
) l
JOIN (
  SELECT sop_instance_uid, patient_key, institution_key, manufacturer
  FROM `mi`.`dicom_metadata`
) m ON m.sop_instance_uid = l.sop_instance_uid
JOIN `mi`.`patient_split` s ON s.patient_key = m.patient_key
JOIN (
SELECT sop_instance_uid, 'all' AS cohort FROM (SELECT sop_instance_uid, max(label_value) AS label_value
    FROM `mi`.`labels`
    WHERE label_value IN (0, 1)
    GROUP BY sop_instance_uid
  ) t
  UNION ALL
  SELECT sop_instance_uid, 'adult_chest_xr' AS cohort FROM `mi`.`cohort_adult_chest_xr`
) c ON c.sop_instance_uid = l.sop_instance_uid
LEFT JOIN (
  SELECT DISTINCT model_name, model_version, sop_instance_uid
  FROM `mi`.`predictions`
  WHERE status = 'ok' AND probability IS NOT NULL
      AND probability >= CAST(0 AS DOUBLE) AND probability <= CAST(1 AS DOUBLE)
) ok ON ok.model_name = v.model_name AND ok.model_version = v.model_version
    AND ok.sop_instance_uid = l.sop_instance_uid
LEFT JOIN (
  SELECT model_name, model_version, sop_instance_uid, error
  FROM (
    SELECT model_name, model_version, sop_instance_uid,
           coalesce(error, CASE WHEN status = 'ok' THEN 'probability missing, NaN or outside [0, 1]' END) AS error,
           row_number() OVER (PARTITION BY model_name, model_version, sop_instance_uid
                              ORDER BY predicted_at DESC, run_id DESC) AS recency
    FROM `mi`.`predictions`
  ) latest
  WHERE recency = 1
) e ON e.model_name = v.model_name AND e.model_version = v.model_version
   AND e.sop_instance_uid = l.sop_instance_uid
LEFT JOIN (
SELECT name, version, max(decision_threshold) AS decision_threshold
  FROM `mi`.`model_versions`
  GROUP BY name, version
) r ON r.name = v.model_name AND r.version = v.model_version
WHERE ok.sop_instance_uid IS NULL;

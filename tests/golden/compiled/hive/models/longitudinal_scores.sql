-- longitudinal_scores: table mi.longitudinal_scores, from models/longitudinal/longitudinal_scores.sql, compiled for hive
SELECT
  model_name,
  model_version,
  patient_key,
  study_uid,
  study_date,
  n_images,
  score,
  study_seq,
  n_studies,
  days_since_first,
  previous_score,
  score - previous_score AS score_change,
  (CAST(n_studies * sum_xy - sum_x * sum_y AS DOUBLE) / NULLIF(CAST(n_studies * sum_xx - sum_x * sum_x AS DOUBLE), CAST(0 AS DOUBLE))) AS slope_per_day,
  (CAST(n_studies * sum_xy - sum_x * sum_y AS DOUBLE) / NULLIF(CAST(n_studies * sum_xx - sum_x * sum_x AS DOUBLE), CAST(0 AS DOUBLE))) * CAST(365.25 AS DOUBLE) AS slope_per_year
FROM (
  SELECT
    x.*,
    lag(score) OVER (PARTITION BY model_name, model_version, patient_key ORDER BY study_date, study_uid) AS previous_score,
    row_number() OVER (PARTITION BY model_name, model_version, patient_key ORDER BY study_date, study_uid) AS study_seq,
    count(*) OVER (PARTITION BY model_name, model_version, patient_key) AS n_studies,
    sum(CAST(days_since_first AS DOUBLE)) OVER (PARTITION BY model_name, model_version, patient_key) AS sum_x,
    sum(score) OVER (PARTITION BY model_name, model_version, patient_key) AS sum_y,
    sum(CAST(days_since_first AS DOUBLE) * score) OVER (PARTITION BY model_name, model_version, patient_key) AS sum_xy,
    sum(CAST(days_since_first AS DOUBLE) * days_since_first) OVER (PARTITION BY model_name, model_version, patient_key) AS sum_xx
  FROM (
    SELECT
      st.*,
      datediff(study_date, min(study_date) OVER (PARTITION BY model_name, model_version, patient_key)) AS days_since_first
    FROM (
      SELECT p.model_name, p.model_version, m.patient_key, m.study_uid, min(m.study_date) AS study_date,
             count(*) AS n_images, max(p.probability) AS score
      FROM (
        SELECT model_name, model_version, sop_instance_uid, probability
        FROM (
          SELECT model_name, model_version, sop_instance_uid, probability,
                 row_number() OVER (PARTITION BY model_name, model_version, sop_instance_uid
                                    ORDER BY predicted_at DESC, run_id DESC) AS recency
          FROM `mi`.`predictions`
          WHERE status = 'ok' AND probability IS NOT NULL
      AND probability >= CAST(0 AS DOUBLE) AND probability <= CAST(1 AS DOUBLE)
        ) latest
        WHERE recency = 1
      ) p
      JOIN `mi`.`dicom_metadata` m ON m.sop_instance_uid = p.sop_instance_uid
      WHERE m.study_date IS NOT NULL
      GROUP BY p.model_name, p.model_version, m.patient_key, m.study_uid
    ) st
  ) x
) y;

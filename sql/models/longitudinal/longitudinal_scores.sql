{#-
  The positive-class probability of each patient over time, per model version: one row per
  (model version, patient, study) with the study's score (the max over its images, or the mean
  with var('study_score', 'max') = 'mean'), the change since the patient's previous study (LAG),
  and the patient's least-squares slope of score against x = days since the first study:

      slope = (n Σxy − Σx Σy) / (n Σx² − (Σx)²)     per day; NULL with < 2 distinct dates

  Uses the latest valid prediction of each image (valid_prediction(): ok, probability in [0, 1]); studies without a date are left out.
-#}
{{ config(materialized='table', tags=['longitudinal']) }}
{%- if var('study_score', 'max') == 'mean' %}{% set agg = 'avg' %}
{%- elif var('study_score', 'max') == 'max' %}{% set agg = 'max' %}
{%- else %}{{ fail("longitudinal_scores: var('study_score') must be 'max' or 'mean'") }}{% endif %}
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
  {{ safe_div('n_studies * sum_xy - sum_x * sum_y', 'n_studies * sum_xx - sum_x * sum_x') }} AS slope_per_day,
  {{ safe_div('n_studies * sum_xy - sum_x * sum_y', 'n_studies * sum_xx - sum_x * sum_x') }} * CAST(365.25 AS DOUBLE) AS slope_per_year
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
             count(*) AS n_images, {{ agg }}(p.probability) AS score
      FROM (
        SELECT model_name, model_version, sop_instance_uid, probability
        FROM (
          SELECT model_name, model_version, sop_instance_uid, probability,
                 row_number() OVER (PARTITION BY model_name, model_version, sop_instance_uid
                                    ORDER BY predicted_at DESC, run_id DESC) AS recency
          FROM {{ source('mi', 'predictions') }}
          WHERE {{ valid_prediction() }}
        ) latest
        WHERE recency = 1
      ) p
      JOIN {{ source('mi', 'dicom_metadata') }} m ON m.sop_instance_uid = p.sop_instance_uid
      WHERE m.study_date IS NOT NULL
      GROUP BY p.model_name, p.model_version, m.patient_key, m.study_uid
    ) st
  ) x
) y

-- cohort_longitudinal: table mi.cohort_longitudinal, from models/cohorts/cohort_longitudinal.sql, compiled for spark
SELECT
  concat(patient_key, '|', body_part, '|', study_uid) AS series_key,
  patient_key,
  body_part,
  study_uid,
  study_date,
  modalities,
  study_seq,
  n_studies,
  datediff(study_date, prev_study_date) AS days_since_previous,
  datediff(study_date, first_study_date) AS days_since_first
FROM (
  SELECT
    s.*,
    row_number() OVER (PARTITION BY patient_key, body_part ORDER BY study_date, study_uid) AS study_seq,
    count(*) OVER (PARTITION BY patient_key, body_part) AS n_studies,
    lag(study_date) OVER (PARTITION BY patient_key, body_part ORDER BY study_date, study_uid) AS prev_study_date,
    min(study_date) OVER (PARTITION BY patient_key, body_part) AS first_study_date
  FROM (
    SELECT patient_key, upper(body_part) AS body_part, study_uid, min(study_date) AS study_date,
           concat_ws(',', sort_array(collect_set(modality))) AS modalities
    FROM `mi`.`dicom_metadata`
    WHERE study_date IS NOT NULL AND body_part IS NOT NULL AND body_part <> ''
    GROUP BY patient_key, upper(body_part), study_uid
  ) s
) w
WHERE n_studies >= 2;

-- cohort_adult_chest_xr: incremental mi.cohort_adult_chest_xr, from models/cohorts/cohort_adult_chest_xr.sql, compiled for hive (incremental run)
SELECT
  m.patient_key,
  m.study_uid,
  m.series_uid,
  m.sop_instance_uid,
  m.study_date,
  m.study_month,
  m.modality,
  upper(m.view_position) AS view_position,
  m.patient_age_years,
  m.patient_sex,
  m.institution_key,
  m.manufacturer,
  m.manufacturer_model,
  m.`rows` AS image_rows,
  m.`columns` AS image_columns,
  m.photometric_interpretation,
  m.study_year
FROM `mi`.`dicom_metadata` m
JOIN (
  -- the study years holding a qualifying image that the cohort does not have yet
  SELECT DISTINCT n.study_year AS refresh_year
  FROM `mi`.`dicom_metadata` n
  LEFT JOIN `mi`.`cohort_adult_chest_xr` t ON t.sop_instance_uid = n.sop_instance_uid
  WHERE 
      n.modality IN ('CR', 'DX')
  AND upper(n.body_part) = 'CHEST'
  AND upper(n.view_position) IN ('PA', 'AP')
  AND n.patient_age_years >= 18
  AND n.study_date >= CAST('1900-01-01' AS DATE)
  AND n.study_date <= CAST('2999-12-31' AS DATE)
  AND n.study_year >= year(CAST('1900-01-01' AS DATE))
  AND n.study_year <= year(CAST('2999-12-31' AS DATE))
    AND t.sop_instance_uid IS NULL
) r ON r.refresh_year = m.study_year
WHERE 
      m.modality IN ('CR', 'DX')
  AND upper(m.body_part) = 'CHEST'
  AND upper(m.view_position) IN ('PA', 'AP')
  AND m.patient_age_years >= 18
  AND m.study_date >= CAST('1900-01-01' AS DATE)
  AND m.study_date <= CAST('2999-12-31' AS DATE)
  AND m.study_year >= year(CAST('1900-01-01' AS DATE))
  AND m.study_year <= year(CAST('2999-12-31' AS DATE));

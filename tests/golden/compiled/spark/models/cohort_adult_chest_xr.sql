-- cohort_adult_chest_xr: incremental mi.cohort_adult_chest_xr, from models/cohorts/cohort_adult_chest_xr.sql, compiled for spark
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
WHERE 
      m.modality IN ('CR', 'DX')
  AND upper(m.body_part) = 'CHEST'
  AND upper(m.view_position) IN ('PA', 'AP')
  AND m.patient_age_years >= 18
  AND m.study_date >= CAST('1900-01-01' AS DATE)
  AND m.study_date <= CAST('2999-12-31' AS DATE)
  AND m.study_year >= year(CAST('1900-01-01' AS DATE))
  AND m.study_year <= year(CAST('2999-12-31' AS DATE));

-- cohort_ct_pet: table mi.cohort_ct_pet, from models/cohorts/cohort_ct_pet.sql, compiled for spark
SELECT
  concat(ct.study_uid, '|', pt.study_uid) AS pair_key,
  ct.patient_key,
  ct.study_uid AS ct_study_uid,
  ct.study_date AS ct_study_date,
  ct.body_part AS ct_body_part,
  pt.study_uid AS pt_study_uid,
  pt.study_date AS pt_study_date,
  pt.body_part AS pt_body_part,
  abs(datediff(pt.study_date, ct.study_date)) AS days_apart,
  CASE WHEN pt.study_date >= ct.study_date THEN 'ct_first' ELSE 'pt_first' END AS sequence
FROM (
  SELECT patient_key, study_uid, min(study_date) AS study_date, min(body_part) AS body_part
  FROM `mi`.`dicom_metadata`
  WHERE modality = 'CT' AND study_date IS NOT NULL
  GROUP BY patient_key, study_uid
) ct
JOIN (
  SELECT patient_key, study_uid, min(study_date) AS study_date, min(body_part) AS body_part
  FROM `mi`.`dicom_metadata`
  WHERE modality = 'PT' AND study_date IS NOT NULL
  GROUP BY patient_key, study_uid
) pt ON pt.patient_key = ct.patient_key
WHERE abs(datediff(pt.study_date, ct.study_date)) <= 30;

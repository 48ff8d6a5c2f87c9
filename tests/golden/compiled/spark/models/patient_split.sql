-- patient_split: table mi.patient_split, from models/splits/patient_split.sql, compiled for spark
SELECT
  patient_key,
  CASE WHEN u < CAST(0.7 AS DOUBLE) THEN 'train'
       WHEN u < CAST(0.85 AS DOUBLE) THEN 'validation'
       ELSE 'test' END AS split,
  u AS split_fraction,
  n_studies,
  n_images
FROM (
  SELECT patient_key,
         (CAST(conv(substr(md5(concat('mi', ':', patient_key)), 1, 8), 16, 10) AS DOUBLE) / CAST(4294967296 AS DOUBLE)) AS u,
         count(DISTINCT study_uid) AS n_studies,
         count(*) AS n_images
  FROM `mi`.`dicom_metadata`
  WHERE patient_key IS NOT NULL
  GROUP BY patient_key
) p;

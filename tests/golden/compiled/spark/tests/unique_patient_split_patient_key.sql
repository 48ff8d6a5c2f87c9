-- test unique_patient_split_patient_key (unique, from models/splits/schema.yml): passes when this returns no rows
SELECT `patient_key`, COUNT(*) AS n_records
FROM `mi`.`patient_split`
WHERE `patient_key` IS NOT NULL
GROUP BY `patient_key`
HAVING COUNT(*) > 1;

-- test not_null_patient_split_patient_key (not_null, from models/splits/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`patient_split`
WHERE `patient_key` IS NULL;

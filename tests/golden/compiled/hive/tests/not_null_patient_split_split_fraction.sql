-- test not_null_patient_split_split_fraction (not_null, from models/splits/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`patient_split`
WHERE `split_fraction` IS NULL;

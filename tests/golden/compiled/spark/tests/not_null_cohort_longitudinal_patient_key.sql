-- test not_null_cohort_longitudinal_patient_key (not_null, from models/cohorts/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`cohort_longitudinal`
WHERE `patient_key` IS NULL;

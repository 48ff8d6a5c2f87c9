-- test not_null_cohort_longitudinal_study_seq (not_null, from models/cohorts/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`cohort_longitudinal`
WHERE `study_seq` IS NULL;

-- test not_null_cohort_adult_chest_xr_study_year (not_null, from models/cohorts/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`cohort_adult_chest_xr`
WHERE `study_year` IS NULL;

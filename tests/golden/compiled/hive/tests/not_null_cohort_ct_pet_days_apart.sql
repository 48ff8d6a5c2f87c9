-- test not_null_cohort_ct_pet_days_apart (not_null, from models/cohorts/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`cohort_ct_pet`
WHERE `days_apart` IS NULL;

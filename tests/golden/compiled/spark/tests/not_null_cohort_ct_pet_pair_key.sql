-- test not_null_cohort_ct_pet_pair_key (not_null, from models/cohorts/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`cohort_ct_pet`
WHERE `pair_key` IS NULL;

-- test not_null_cohort_adult_chest_xr_sop_instance_uid (not_null, from models/cohorts/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`cohort_adult_chest_xr`
WHERE `sop_instance_uid` IS NULL;

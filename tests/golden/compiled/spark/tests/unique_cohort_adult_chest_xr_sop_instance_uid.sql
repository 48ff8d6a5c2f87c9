-- test unique_cohort_adult_chest_xr_sop_instance_uid (unique, from models/cohorts/schema.yml): passes when this returns no rows
SELECT `sop_instance_uid`, COUNT(*) AS n_records
FROM `mi`.`cohort_adult_chest_xr`
WHERE `sop_instance_uid` IS NOT NULL
GROUP BY `sop_instance_uid`
HAVING COUNT(*) > 1;

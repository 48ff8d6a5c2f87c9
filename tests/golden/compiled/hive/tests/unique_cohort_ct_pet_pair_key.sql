-- test unique_cohort_ct_pet_pair_key (unique, from models/cohorts/schema.yml): passes when this returns no rows
SELECT `pair_key`, COUNT(*) AS n_records
FROM `mi`.`cohort_ct_pet`
WHERE `pair_key` IS NOT NULL
GROUP BY `pair_key`
HAVING COUNT(*) > 1;

-- test not_null_cohort_longitudinal_series_key (not_null, from models/cohorts/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`cohort_longitudinal`
WHERE `series_key` IS NULL;

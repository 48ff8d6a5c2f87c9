-- test not_null_cohort_longitudinal_days_since_first (not_null, from models/cohorts/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`cohort_longitudinal`
WHERE `days_since_first` IS NULL;

-- test unique_cohort_longitudinal_series_key (unique, from models/cohorts/schema.yml): passes when this returns no rows
SELECT `series_key`, COUNT(*) AS n_records
FROM `mi`.`cohort_longitudinal`
WHERE `series_key` IS NOT NULL
GROUP BY `series_key`
HAVING COUNT(*) > 1;

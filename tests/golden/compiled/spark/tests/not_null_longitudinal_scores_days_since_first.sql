-- test not_null_longitudinal_scores_days_since_first (not_null, from models/longitudinal/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`longitudinal_scores`
WHERE `days_since_first` IS NULL;

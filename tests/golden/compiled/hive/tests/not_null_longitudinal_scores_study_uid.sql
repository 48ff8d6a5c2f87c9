-- test not_null_longitudinal_scores_study_uid (not_null, from models/longitudinal/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`longitudinal_scores`
WHERE `study_uid` IS NULL;

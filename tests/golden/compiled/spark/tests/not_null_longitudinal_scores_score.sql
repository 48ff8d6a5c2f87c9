-- test not_null_longitudinal_scores_score (not_null, from models/longitudinal/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`longitudinal_scores`
WHERE `score` IS NULL;

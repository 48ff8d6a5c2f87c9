-- test not_null_longitudinal_scores_model_name (not_null, from models/longitudinal/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`longitudinal_scores`
WHERE `model_name` IS NULL;

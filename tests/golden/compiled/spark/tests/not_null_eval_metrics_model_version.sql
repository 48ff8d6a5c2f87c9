-- test not_null_eval_metrics_model_version (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_metrics`
WHERE `model_version` IS NULL;

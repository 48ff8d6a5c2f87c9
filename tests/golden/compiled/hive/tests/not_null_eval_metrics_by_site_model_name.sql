-- test not_null_eval_metrics_by_site_model_name (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_metrics_by_site`
WHERE `model_name` IS NULL;

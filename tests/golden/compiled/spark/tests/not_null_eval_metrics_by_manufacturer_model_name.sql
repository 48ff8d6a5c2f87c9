-- test not_null_eval_metrics_by_manufacturer_model_name (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_metrics_by_manufacturer`
WHERE `model_name` IS NULL;

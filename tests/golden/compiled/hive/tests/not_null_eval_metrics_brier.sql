-- test not_null_eval_metrics_brier (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_metrics`
WHERE `brier` IS NULL;

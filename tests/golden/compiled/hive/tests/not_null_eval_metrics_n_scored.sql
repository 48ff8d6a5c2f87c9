-- test not_null_eval_metrics_n_scored (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_metrics`
WHERE `n_scored` IS NULL;

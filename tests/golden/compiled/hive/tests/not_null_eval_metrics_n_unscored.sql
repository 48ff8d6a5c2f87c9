-- test not_null_eval_metrics_n_unscored (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_metrics`
WHERE `n_unscored` IS NULL;

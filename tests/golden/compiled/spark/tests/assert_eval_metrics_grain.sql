-- test assert_eval_metrics_grain (singular, from tests/assert_eval_metrics_grain.sql): passes when this returns no rows
SELECT model_name, model_version, cohort, split, count(*) AS n_rows
FROM `mi`.`eval_metrics`
GROUP BY model_name, model_version, cohort, split
HAVING count(*) > 1;

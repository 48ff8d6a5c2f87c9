-- test assert_calibration_ten_bins (singular, from tests/assert_calibration_ten_bins.sql): passes when this returns no rows
SELECT c.model_name, c.model_version, c.cohort, c.split, count(*) AS n_bins, sum(c.n) AS n_binned, max(m.n) AS n
FROM `mi`.`eval_calibration` c
JOIN `mi`.`eval_metrics` m
  ON m.model_name = c.model_name AND m.model_version = c.model_version AND m.cohort = c.cohort AND m.split = c.split
GROUP BY c.model_name, c.model_version, c.cohort, c.split
HAVING count(*) <> 10 OR sum(c.n) <> max(m.n);

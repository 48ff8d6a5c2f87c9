-- eval_calibration: table mi.eval_calibration, from models/evaluation/eval_calibration.sql, compiled for hive
SELECT
  model_name, model_version, cohort, split, bin, bin_lower, bin_upper, n, mean_predicted, observed_rate,
  (CAST(sum(abs_gap) OVER (PARTITION BY model_name, model_version, cohort, split) AS DOUBLE) / NULLIF(CAST(sum(n) OVER (PARTITION BY model_name, model_version, cohort, split) AS DOUBLE), CAST(0 AS DOUBLE))) AS ece
FROM (
  SELECT
    g.model_name, g.model_version, g.cohort, g.split, b.bin,
    CAST(b.bin AS DOUBLE) / 10 AS bin_lower,
    CAST(b.bin + 1 AS DOUBLE) / 10 AS bin_upper,
    coalesce(s.n, CAST(0 AS BIGINT)) AS n,
    s.mean_predicted,
    s.observed_rate,
    coalesce(abs(s.sum_y - s.sum_p), CAST(0 AS DOUBLE)) AS abs_gap
  FROM (
    SELECT DISTINCT model_name, model_version, cohort, split
    FROM (SELECT model_name, model_version, cohort, split FROM `mi`.`eval_predictions`
UNION ALL
SELECT model_name, model_version, cohort, 'all' AS split FROM `mi`.`eval_predictions`) e
  ) g
  CROSS JOIN (
    SELECT bin FROM (SELECT 1 AS one) o LATERAL VIEW posexplode(split(space(9), ' ')) t AS bin, unused
  ) b
  LEFT JOIN (
    SELECT model_name, model_version, cohort, split, least(CAST(floor(p * 10) AS INT), 9) AS bin,
           count(*) AS n, avg(p) AS mean_predicted, avg(y) AS observed_rate,
           sum(y) AS sum_y, sum(p) AS sum_p
    FROM (SELECT model_name, model_version, cohort, label_value AS y, probability AS p, split FROM `mi`.`eval_predictions`
UNION ALL
SELECT model_name, model_version, cohort, label_value AS y, probability AS p, 'all' AS split FROM `mi`.`eval_predictions`) e
    GROUP BY model_name, model_version, cohort, split, least(CAST(floor(p * 10) AS INT), 9)
  ) s ON s.model_name = g.model_name AND s.model_version = g.model_version AND s.cohort = g.cohort
     AND s.split = g.split AND s.bin = b.bin
) x;

{#- Reliability diagram data: per model_name, model_version, cohort and split (and 'all'), the
    10 equal-width probability bins [k/10, (k+1)/10) (1.0 falls in the last), each with its count,
    mean predicted probability and observed positive rate (NULL for an empty bin), and the
    group's expected calibration error ECE = sum over bins of n_b / n * |observed_b - predicted_b|. -#}
{{ config(materialized='table', tags=['evaluation']) }}
SELECT
  model_name, model_version, cohort, split, bin, bin_lower, bin_upper, n, mean_predicted, observed_rate,
  {{ safe_div('sum(abs_gap) OVER (PARTITION BY model_name, model_version, cohort, split)',
              'sum(n) OVER (PARTITION BY model_name, model_version, cohort, split)') }} AS ece
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
    FROM ({{ with_all_split(ref('eval_predictions'), ['model_name', 'model_version', 'cohort']) }}) e
  ) g
  CROSS JOIN (
    SELECT bin FROM (SELECT 1 AS one) o LATERAL VIEW posexplode(split(space(9), ' ')) t AS bin, unused
  ) b
  LEFT JOIN (
    SELECT model_name, model_version, cohort, split, {{ calibration_bin('p') }} AS bin,
           count(*) AS n, avg(p) AS mean_predicted, avg(y) AS observed_rate,
           sum(y) AS sum_y, sum(p) AS sum_p
    FROM ({{ with_all_split(ref('eval_predictions'), ['model_name', 'model_version', 'cohort',
                                                       'label_value AS y', 'probability AS p']) }}) e
    GROUP BY model_name, model_version, cohort, split, {{ calibration_bin('p') }}
  ) s ON s.model_name = g.model_name AND s.model_version = g.model_version AND s.cohort = g.cohort
     AND s.split = g.split AND s.bin = b.bin
) x

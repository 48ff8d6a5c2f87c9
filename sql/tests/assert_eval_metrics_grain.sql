-- One row per model_name, model_version, cohort and split.
SELECT model_name, model_version, cohort, split, count(*) AS n_rows
FROM {{ ref('eval_metrics') }}
GROUP BY model_name, model_version, cohort, split
HAVING count(*) > 1

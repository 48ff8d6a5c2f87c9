-- eval_site_shortcut: table mi.eval_site_shortcut, from models/evaluation/eval_site_shortcut.sql, compiled for hive
SELECT
  model_name, model_version, cohort, split, institution_key,
  count(*) AS n,
  sum(y) AS n_positive,
  sum(1 - y) AS n_negative,
  (CAST(sum(y) AS DOUBLE) / NULLIF(CAST(count(*) AS DOUBLE), CAST(0 AS DOUBLE))) AS prevalence,
  avg(p) AS mean_score,
  avg(CASE WHEN y = 1 THEN p END) AS mean_score_positive,
  avg(CASE WHEN y = 0 THEN p END) AS mean_score_negative,
  (CAST(sum(y * rank_site) - sum(y) * (sum(y) + 1) / 2 AS DOUBLE) / NULLIF(CAST(sum(y) * sum(1 - y) AS DOUBLE), CAST(0 AS DOUBLE))) AS auc,
  (CAST(sum(rank_group) - count(*) * (count(*) + 1) / 2 AS DOUBLE) / NULLIF(CAST(count(*) * (max(group_n) - count(*)) AS DOUBLE), CAST(0 AS DOUBLE))) AS site_auc,
  (CAST(sum(y * rank_class) - sum(y) * (sum(y) + 1) / 2 AS DOUBLE) / NULLIF(CAST(sum(y) * (max(group_pos) - sum(y)) AS DOUBLE), CAST(0 AS DOUBLE))) AS site_auc_positive,
  (CAST(sum((1 - y) * rank_class) - sum(1 - y) * (sum(1 - y) + 1) / 2 AS DOUBLE) / NULLIF(CAST(sum(1 - y) * (max(group_neg) - sum(1 - y)) AS DOUBLE), CAST(0 AS DOUBLE))) AS site_auc_negative,
  max(group_n) AS group_n
FROM (
  SELECT
    e.*,
    rank() OVER (PARTITION BY model_name, model_version, cohort, split, institution_key ORDER BY p)
      + (count(*) OVER (PARTITION BY model_name, model_version, cohort, split, institution_key, p) - 1) / 2 AS rank_site,
    rank() OVER (PARTITION BY model_name, model_version, cohort, split ORDER BY p)
      + (count(*) OVER (PARTITION BY model_name, model_version, cohort, split, p) - 1) / 2 AS rank_group,
    rank() OVER (PARTITION BY model_name, model_version, cohort, split, y ORDER BY p)
      + (count(*) OVER (PARTITION BY model_name, model_version, cohort, split, y, p) - 1) / 2 AS rank_class,
    count(*) OVER (PARTITION BY model_name, model_version, cohort, split) AS group_n,
    sum(y) OVER (PARTITION BY model_name, model_version, cohort, split) AS group_pos,
    sum(1 - y) OVER (PARTITION BY model_name, model_version, cohort, split) AS group_neg
  FROM (
SELECT model_name, model_version, cohort, institution_key, label_value AS y, probability AS p, split FROM `mi`.`eval_predictions`
UNION ALL
SELECT model_name, model_version, cohort, institution_key, label_value AS y, probability AS p, 'all' AS split FROM `mi`.`eval_predictions`
  ) e
) r
GROUP BY model_name, model_version, cohort, split, institution_key;

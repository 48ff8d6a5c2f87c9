-- eval_within_site_auc: table mi.eval_within_site_auc, from models/evaluation/eval_within_site_auc.sql, compiled for spark
SELECT
  s.model_name, s.model_version, s.cohort, s.split,
  s.n, s.n_sites, s.n_sites_with_auc,
  m.auc AS pooled_auc,
  s.within_site_auc_mean,
  s.within_site_auc_pairs,
  s.within_site_auc_min,
  s.within_site_auc_max,
  m.auc - s.within_site_auc_mean AS auc_gap,
  s.max_site_auc, s.max_site_auc_positive, s.max_site_auc_negative,
  CASE WHEN s.n_sites > 1 THEN (CAST(s.sxy AS DOUBLE) / NULLIF(CAST(sqrt(s.sxx) * sqrt(s.syy) AS DOUBLE), CAST(0 AS DOUBLE))) END AS prevalence_score_corr
FROM (
  SELECT
    model_name, model_version, cohort, split,
    sum(n) AS n,
    count(*) AS n_sites,
    sum(CASE WHEN auc IS NOT NULL THEN 1 ELSE 0 END) AS n_sites_with_auc,
    avg(auc) AS within_site_auc_mean,
    (CAST(sum(CASE WHEN auc IS NOT NULL THEN auc * n_positive * n_negative END) AS DOUBLE) / NULLIF(CAST(sum(CASE WHEN auc IS NOT NULL THEN n_positive * n_negative END) AS DOUBLE), CAST(0 AS DOUBLE))) AS within_site_auc_pairs,
    min(auc) AS within_site_auc_min,
    max(auc) AS within_site_auc_max,
    max(site_auc) AS max_site_auc,
    max(site_auc_positive) AS max_site_auc_positive,
    max(site_auc_negative) AS max_site_auc_negative,
    sum(dx * dx) AS sxx, sum(dy * dy) AS syy, sum(dx * dy) AS sxy
  FROM (
    SELECT x.*,
           prevalence - avg(prevalence) OVER (PARTITION BY model_name, model_version, cohort, split) AS dx,
           mean_score - avg(mean_score) OVER (PARTITION BY model_name, model_version, cohort, split) AS dy
    FROM `mi`.`eval_site_shortcut` x
  ) d
  GROUP BY model_name, model_version, cohort, split
) s
LEFT JOIN `mi`.`eval_metrics` m
  ON m.model_name = s.model_name AND m.model_version = s.model_version AND m.cohort = s.cohort
 AND m.split = s.split;

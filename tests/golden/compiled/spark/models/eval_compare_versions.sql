-- eval_compare_versions: table mi.eval_compare_versions, from models/evaluation/eval_compare_versions.sql, compiled for spark
SELECT
  b.model_name,
  b.cohort,
  b.split,
  b.model_version AS base_version,
  c.model_version AS candidate_version,
  CASE WHEN c.parent_version = b.model_version THEN TRUE ELSE FALSE END AS is_parent,
  b.n AS base_n,
  c.n AS candidate_n,
  b.auc AS base_auc,
  c.auc AS candidate_auc,
  c.auc - b.auc AS delta_auc,
  c.sensitivity - b.sensitivity AS delta_sensitivity,
  c.specificity - b.specificity AS delta_specificity,
  c.brier - b.brier AS delta_brier,
  c.ece - b.ece AS delta_ece
FROM (
  SELECT e.*, v.version_order, v.parent_version
  FROM `mi`.`eval_metrics` e
  JOIN (
    SELECT model_name, model_version, parent_version,
           row_number() OVER (PARTITION BY model_name
                              ORDER BY CASE WHEN registered_at IS NULL THEN 1 ELSE 0 END, registered_at,
                                       model_version) AS version_order
    FROM (
      SELECT k.model_name, k.model_version, max(r.registered_at) AS registered_at,
             max(r.parent_version) AS parent_version
      FROM (SELECT DISTINCT model_name, model_version FROM `mi`.`eval_metrics`) k
      LEFT JOIN `mi`.`model_versions` r ON r.name = k.model_name AND r.version = k.model_version
      GROUP BY k.model_name, k.model_version
    ) rv
  ) v ON v.model_name = e.model_name AND v.model_version = e.model_version
) b
JOIN (
  SELECT e.*, v.version_order, v.parent_version
  FROM `mi`.`eval_metrics` e
  JOIN (
    SELECT model_name, model_version, parent_version,
           row_number() OVER (PARTITION BY model_name
                              ORDER BY CASE WHEN registered_at IS NULL THEN 1 ELSE 0 END, registered_at,
                                       model_version) AS version_order
    FROM (
      SELECT k.model_name, k.model_version, max(r.registered_at) AS registered_at,
             max(r.parent_version) AS parent_version
      FROM (SELECT DISTINCT model_name, model_version FROM `mi`.`eval_metrics`) k
      LEFT JOIN `mi`.`model_versions` r ON r.name = k.model_name AND r.version = k.model_version
      GROUP BY k.model_name, k.model_version
    ) rv
  ) v ON v.model_name = e.model_name AND v.model_version = e.model_version
) c ON c.model_name = b.model_name AND c.cohort = b.cohort AND c.split = b.split
   AND c.version_order > b.version_order;

-- eval_metrics_by_site: table mi.eval_metrics_by_site, from models/evaluation/eval_metrics_by_site.sql, compiled for spark
SELECT
  `model_name`, `model_version`, `cohort`, `split`, `institution_key`,
  n, n_positive, n_negative,
  (CAST(n_positive AS DOUBLE) / NULLIF(CAST(n AS DOUBLE), CAST(0 AS DOUBLE))) AS prevalence,
  decision_threshold,
  tp, fp, tn, fn,
  (CAST(tp + tn AS DOUBLE) / NULLIF(CAST(n AS DOUBLE), CAST(0 AS DOUBLE))) AS accuracy,
  CASE WHEN (n) > 0 THEN greatest(CAST(0 AS DOUBLE), (CAST((tp + tn) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((n) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) - (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((tp + tn) * ((n) - (tp + tn)) AS DOUBLE) / NULLIF(CAST(n AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(n AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS accuracy_ci_lower,
  CASE WHEN (n) > 0 THEN least(CAST(1 AS DOUBLE), (CAST((tp + tn) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((n) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) + (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((tp + tn) * ((n) - (tp + tn)) AS DOUBLE) / NULLIF(CAST(n AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(n AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS accuracy_ci_upper,
  (CAST(tp AS DOUBLE) / NULLIF(CAST(tp + fn AS DOUBLE), CAST(0 AS DOUBLE))) AS sensitivity,
  CASE WHEN (tp + fn) > 0 THEN greatest(CAST(0 AS DOUBLE), (CAST((tp) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((tp + fn) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) - (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((tp) * ((tp + fn) - (tp)) AS DOUBLE) / NULLIF(CAST(tp + fn AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(tp + fn AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS sensitivity_ci_lower,
  CASE WHEN (tp + fn) > 0 THEN least(CAST(1 AS DOUBLE), (CAST((tp) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((tp + fn) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) + (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((tp) * ((tp + fn) - (tp)) AS DOUBLE) / NULLIF(CAST(tp + fn AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(tp + fn AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS sensitivity_ci_upper,
  (CAST(tn AS DOUBLE) / NULLIF(CAST(tn + fp AS DOUBLE), CAST(0 AS DOUBLE))) AS specificity,
  CASE WHEN (tn + fp) > 0 THEN greatest(CAST(0 AS DOUBLE), (CAST((tn) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((tn + fp) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) - (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((tn) * ((tn + fp) - (tn)) AS DOUBLE) / NULLIF(CAST(tn + fp AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(tn + fp AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS specificity_ci_lower,
  CASE WHEN (tn + fp) > 0 THEN least(CAST(1 AS DOUBLE), (CAST((tn) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((tn + fp) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) + (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((tn) * ((tn + fp) - (tn)) AS DOUBLE) / NULLIF(CAST(tn + fp AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(tn + fp AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS specificity_ci_upper,
  (CAST(tp AS DOUBLE) / NULLIF(CAST(tp + fp AS DOUBLE), CAST(0 AS DOUBLE))) AS ppv,
  (CAST(tn AS DOUBLE) / NULLIF(CAST(tn + fn AS DOUBLE), CAST(0 AS DOUBLE))) AS npv,
  (CAST(2 * tp AS DOUBLE) / NULLIF(CAST(2 * tp + fp + fn AS DOUBLE), CAST(0 AS DOUBLE))) AS f1,
  auc,
  auc_se,
  CASE WHEN auc_se IS NOT NULL THEN greatest(CAST(0 AS DOUBLE), auc - CAST(1.959963984540054 AS DOUBLE) * auc_se) END AS auc_ci_lower,
  CASE WHEN auc_se IS NOT NULL THEN least(CAST(1 AS DOUBLE), auc + CAST(1.959963984540054 AS DOUBLE) * auc_se) END AS auc_ci_upper,
  brier,
  ece
FROM (
  SELECT
    `model_name`, `model_version`, `cohort`, `split`, `institution_key`,
    n, n_positive, n_negative, decision_threshold, tp, fp, tn, fn, brier, ece, auc,
    sqrt((CAST(s10 AS DOUBLE) / NULLIF(CAST(n_positive AS DOUBLE), CAST(0 AS DOUBLE))) + (CAST(s01 AS DOUBLE) / NULLIF(CAST(n_negative AS DOUBLE), CAST(0 AS DOUBLE)))) AS auc_se
  FROM (
    SELECT
      `model_name`, `model_version`, `cohort`, `split`, `institution_key`,
      count(*) AS n,
      sum(y) AS n_positive,
      sum(1 - y) AS n_negative,
      max(decision_threshold) AS decision_threshold,
      sum(y * yhat) AS tp,
      sum((1 - y) * yhat) AS fp,
      sum((1 - y) * (1 - yhat)) AS tn,
      sum(y * (1 - yhat)) AS fn,
      avg((p - y) * (p - y)) AS brier,
      (CAST(sum(abs_bin_gap) AS DOUBLE) / NULLIF(CAST(count(*) AS DOUBLE), CAST(0 AS DOUBLE))) AS ece,
      (CAST(sum(y * avg_rank) - sum(y) * (sum(y) + 1) / 2 AS DOUBLE) / NULLIF(CAST(sum(y) * sum(1 - y) AS DOUBLE), CAST(0 AS DOUBLE))) AS auc,
      (CAST(sum(CASE WHEN y = 1 THEN component_dev * component_dev END) AS DOUBLE) / NULLIF(CAST(sum(y) - 1 AS DOUBLE), CAST(0 AS DOUBLE))) AS s10,
      (CAST(sum(CASE WHEN y = 0 THEN component_dev * component_dev END) AS DOUBLE) / NULLIF(CAST(sum(1 - y) - 1 AS DOUBLE), CAST(0 AS DOUBLE))) AS s01
    FROM (
      SELECT
        r.*,
        component - avg(component) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, y) AS component_dev
      FROM (
        SELECT
          w.*,
          -- the DeLong structural component of this score: V10 for a positive, V01 for a negative
          CASE WHEN y = 1 THEN (CAST(neg_below + neg_tied / 2 AS DOUBLE) / NULLIF(CAST(group_neg AS DOUBLE), CAST(0 AS DOUBLE)))
               ELSE (CAST(group_pos - pos_upto + pos_tied / 2 AS DOUBLE) / NULLIF(CAST(group_pos AS DOUBLE), CAST(0 AS DOUBLE))) END AS component
        FROM (
          SELECT
            s.*,
            CASE WHEN p >= decision_threshold THEN 1 ELSE 0 END AS yhat,
            rank() OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key` ORDER BY p)
              + (count(*) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, p) - 1) / 2 AS avg_rank,
            sum(1 - y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key` ORDER BY p
                             RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
              - sum(1 - y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, p) AS neg_below,
            sum(1 - y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, p) AS neg_tied,
            sum(y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key` ORDER BY p
                         RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS pos_upto,
            sum(y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, p) AS pos_tied,
            sum(y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`) AS group_pos,
            sum(1 - y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`) AS group_neg,
            abs(sum(y - p) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, cal_bin))
              / count(*) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, cal_bin) AS abs_bin_gap
          FROM (
            SELECT i.*, least(CAST(floor(p * 10) AS INT), 9) AS cal_bin
            FROM (
SELECT model_name, model_version, cohort, institution_key, label_value AS y, probability AS p, decision_threshold, split FROM `mi`.`eval_predictions`
UNION ALL
SELECT model_name, model_version, cohort, institution_key, label_value AS y, probability AS p, decision_threshold, 'all' AS split FROM `mi`.`eval_predictions`
            ) i
            WHERE p IS NOT NULL AND y IN (0, 1)
          ) s
        ) w
      ) r
    ) c
    GROUP BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`
  ) a
) m;

-- eval_metrics_by_site: table mi.eval_metrics_by_site, from models/evaluation/eval_metrics_by_site.sql, compiled for hive
SELECT
  `model_name`, `model_version`, `cohort`, `split`, `institution_key`,
  n_scored, n_error, n_unscored, n_cohort,
  (CAST(n_scored AS DOUBLE) / NULLIF(CAST(n_cohort AS DOUBLE), CAST(0 AS DOUBLE))) AS coverage,
  n_scored AS n, n_positive, n_negative, decision_threshold, tp, fp, tn, fn,
  prevalence, accuracy, accuracy_ci_lower, accuracy_ci_upper, sensitivity, sensitivity_ci_lower, sensitivity_ci_upper, specificity, specificity_ci_lower, specificity_ci_upper, ppv, npv, f1, auc, auc_se, auc_ci_lower, auc_ci_upper, brier, ece, auc_se_clustered, auc_ci_lower_clustered, auc_ci_upper_clustered, sensitivity_ci_lower_clustered, sensitivity_ci_upper_clustered, specificity_ci_lower_clustered, specificity_ci_upper_clustered,
  n_patients,
  cohort_positive, cohort_negative,
  (CAST(tp AS DOUBLE) / NULLIF(CAST(cohort_positive AS DOUBLE), CAST(0 AS DOUBLE))) AS sensitivity_failed_as_wrong,
  CASE WHEN (cohort_positive) > 0 THEN greatest(CAST(0 AS DOUBLE), (CAST((tp) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((cohort_positive) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) - (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((tp) * ((cohort_positive) - (tp)) AS DOUBLE) / NULLIF(CAST(cohort_positive AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(cohort_positive AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS sensitivity_failed_as_wrong_ci_lower,
  CASE WHEN (cohort_positive) > 0 THEN least(CAST(1 AS DOUBLE), (CAST((tp) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((cohort_positive) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) + (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((tp) * ((cohort_positive) - (tp)) AS DOUBLE) / NULLIF(CAST(cohort_positive AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(cohort_positive AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS sensitivity_failed_as_wrong_ci_upper,
  (CAST(tn AS DOUBLE) / NULLIF(CAST(cohort_negative AS DOUBLE), CAST(0 AS DOUBLE))) AS specificity_failed_as_wrong,
  CASE WHEN (cohort_negative) > 0 THEN greatest(CAST(0 AS DOUBLE), (CAST((tn) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((cohort_negative) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) - (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((tn) * ((cohort_negative) - (tn)) AS DOUBLE) / NULLIF(CAST(cohort_negative AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(cohort_negative AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS specificity_failed_as_wrong_ci_lower,
  CASE WHEN (cohort_negative) > 0 THEN least(CAST(1 AS DOUBLE), (CAST((tn) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((cohort_negative) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) + (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((tn) * ((cohort_negative) - (tn)) AS DOUBLE) / NULLIF(CAST(cohort_negative AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(cohort_negative AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS specificity_failed_as_wrong_ci_upper,
  (CAST(tp + tn AS DOUBLE) / NULLIF(CAST(n_cohort AS DOUBLE), CAST(0 AS DOUBLE))) AS accuracy_failed_as_wrong,
  CASE WHEN cohort_positive > 0 AND cohort_negative > 0
       THEN coalesce(auc, CAST(0 AS DOUBLE)) * (CAST(n_positive * n_negative AS DOUBLE) / NULLIF(CAST(cohort_positive * cohort_negative AS DOUBLE), CAST(0 AS DOUBLE)))
  END AS auc_failed_as_wrong
FROM (
  SELECT
    k.`model_name`, k.`model_version`, k.`cohort`, k.`split`, k.`institution_key`, 
    coalesce(m.n, CAST(0 AS BIGINT)) AS n_scored,
    coalesce(f.n_error, CAST(0 AS BIGINT)) AS n_error,
    coalesce(f.n_unscored, CAST(0 AS BIGINT)) AS n_unscored,
    coalesce(m.n, CAST(0 AS BIGINT)) + coalesce(f.n_error + f.n_unscored, CAST(0 AS BIGINT)) AS n_cohort,
    coalesce(m.n_positive, CAST(0 AS BIGINT)) AS n_positive,
    coalesce(m.n_negative, CAST(0 AS BIGINT)) AS n_negative,
    coalesce(m.n_positive, CAST(0 AS BIGINT)) + coalesce(f.n_positive, CAST(0 AS BIGINT)) AS cohort_positive,
    coalesce(m.n_negative, CAST(0 AS BIGINT)) + coalesce(f.n_negative, CAST(0 AS BIGINT)) AS cohort_negative,
    coalesce(m.decision_threshold, f.decision_threshold) AS decision_threshold,
    coalesce(m.tp, CAST(0 AS BIGINT)) AS tp, coalesce(m.fp, CAST(0 AS BIGINT)) AS fp,
    coalesce(m.tn, CAST(0 AS BIGINT)) AS tn, coalesce(m.fn, CAST(0 AS BIGINT)) AS fn,
    coalesce(m.n_patients, CAST(0 AS BIGINT)) AS n_patients,
    m.prevalence, m.accuracy, m.accuracy_ci_lower, m.accuracy_ci_upper, m.sensitivity, m.sensitivity_ci_lower, m.sensitivity_ci_upper, m.specificity, m.specificity_ci_lower, m.specificity_ci_upper, m.ppv, m.npv, m.f1, m.auc, m.auc_se, m.auc_ci_lower, m.auc_ci_upper, m.brier, m.ece, m.auc_se_clustered, m.auc_ci_lower_clustered, m.auc_ci_upper_clustered, m.sensitivity_ci_lower_clustered, m.sensitivity_ci_upper_clustered, m.specificity_ci_lower_clustered, m.specificity_ci_upper_clustered
  FROM (
    SELECT DISTINCT `model_name`, `model_version`, `cohort`, `split`, `institution_key` FROM (
      SELECT `model_name`, `model_version`, `cohort`, `split`, `institution_key` FROM (SELECT model_name, model_version, cohort, institution_key, patient_key, label_value AS y, probability AS p, decision_threshold, split FROM `mi`.`eval_predictions`
UNION ALL
SELECT model_name, model_version, cohort, institution_key, patient_key, label_value AS y, probability AS p, decision_threshold, 'all' AS split FROM `mi`.`eval_predictions`
      ) i
      UNION ALL
      SELECT `model_name`, `model_version`, `cohort`, `split`, `institution_key` FROM (SELECT model_name, model_version, cohort, institution_key, label_value AS y, decision_threshold, status, split FROM `mi`.`eval_unscored`
UNION ALL
SELECT model_name, model_version, cohort, institution_key, label_value AS y, decision_threshold, status, 'all' AS split FROM `mi`.`eval_unscored`
      ) u
    ) keys
  ) k
  LEFT JOIN (
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
  ece,
  n_patients,
  auc_se_clustered,
  CASE WHEN auc_se_clustered IS NOT NULL THEN greatest(CAST(0 AS DOUBLE), auc - CAST(1.959963984540054 AS DOUBLE) * auc_se_clustered) END AS auc_ci_lower_clustered,
  CASE WHEN auc_se_clustered IS NOT NULL THEN least(CAST(1 AS DOUBLE), auc + CAST(1.959963984540054 AS DOUBLE) * auc_se_clustered) END AS auc_ci_upper_clustered,
  CASE WHEN (sens_neff) > 0 THEN greatest(CAST(0 AS DOUBLE), (CAST((sens_hat * sens_neff) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((sens_neff) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) - (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((sens_hat * sens_neff) * ((sens_neff) - (sens_hat * sens_neff)) AS DOUBLE) / NULLIF(CAST(sens_neff AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(sens_neff AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS sensitivity_ci_lower_clustered,
  CASE WHEN (sens_neff) > 0 THEN least(CAST(1 AS DOUBLE), (CAST((sens_hat * sens_neff) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((sens_neff) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) + (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((sens_hat * sens_neff) * ((sens_neff) - (sens_hat * sens_neff)) AS DOUBLE) / NULLIF(CAST(sens_neff AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(sens_neff AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS sensitivity_ci_upper_clustered,
  CASE WHEN (spec_neff) > 0 THEN greatest(CAST(0 AS DOUBLE), (CAST((spec_hat * spec_neff) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((spec_neff) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) - (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((spec_hat * spec_neff) * ((spec_neff) - (spec_hat * spec_neff)) AS DOUBLE) / NULLIF(CAST(spec_neff AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(spec_neff AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS specificity_ci_lower_clustered,
  CASE WHEN (spec_neff) > 0 THEN least(CAST(1 AS DOUBLE), (CAST((spec_hat * spec_neff) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 2 AS DOUBLE) / NULLIF(CAST((spec_neff) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) AS DOUBLE), CAST(0 AS DOUBLE))) + (CAST(1.959963984540054 AS DOUBLE) * sqrt(greatest(CAST(0 AS DOUBLE), (CAST((spec_hat * spec_neff) * ((spec_neff) - (spec_hat * spec_neff)) AS DOUBLE) / NULLIF(CAST(spec_neff AS DOUBLE), CAST(0 AS DOUBLE))) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE) / 4))
  / NULLIF(CAST(spec_neff AS DOUBLE) + CAST(1.959963984540054 AS DOUBLE) * CAST(1.959963984540054 AS DOUBLE), CAST(0 AS DOUBLE)))) END AS specificity_ci_upper_clustered
FROM (
  SELECT
    `model_name`, `model_version`, `cohort`, `split`, `institution_key`,
    n, n_positive, n_negative, decision_threshold, tp, fp, tn, fn, brier, ece, auc, n_patients,
    sens_hat, spec_hat,
    sqrt((CAST(s10 AS DOUBLE) / NULLIF(CAST(n_positive AS DOUBLE), CAST(0 AS DOUBLE))) + (CAST(s01 AS DOUBLE) / NULLIF(CAST(n_negative AS DOUBLE), CAST(0 AS DOUBLE)))) AS auc_se,
    -- greatest() skips a NULL on Spark and returns NULL on Hive: test for one class first
    CASE WHEN n_patients > 1 AND auc IS NOT NULL THEN sqrt(greatest(CAST(0 AS DOUBLE),
      (CAST(n_patients AS DOUBLE) / NULLIF(CAST(n_patients - 1 AS DOUBLE), CAST(0 AS DOUBLE)))
      * ((CAST(q10 AS DOUBLE) / NULLIF(CAST(n_positive * n_positive AS DOUBLE), CAST(0 AS DOUBLE))) + (CAST(q01 AS DOUBLE) / NULLIF(CAST(n_negative * n_negative AS DOUBLE), CAST(0 AS DOUBLE)))
         + 2 * (CAST(q11 AS DOUBLE) / NULLIF(CAST(n_positive * n_negative AS DOUBLE), CAST(0 AS DOUBLE)))))) END AS auc_se_clustered,
    CASE WHEN n_positive > 0 THEN
  CASE WHEN n_clusters_pos > 1 AND q_sens > 0 AND sens_hat > 0 AND sens_hat < 1
       THEN least(CAST(n_positive AS DOUBLE),
                  sens_hat * (1 - sens_hat) * CAST(n_positive AS DOUBLE) * CAST(n_positive AS DOUBLE)
                  * CAST(n_clusters_pos - 1 AS DOUBLE) / (CAST(n_clusters_pos AS DOUBLE) * q_sens))
       ELSE CAST(n_positive AS DOUBLE) END
END AS sens_neff,
    CASE WHEN n_negative > 0 THEN
  CASE WHEN n_clusters_neg > 1 AND q_spec > 0 AND spec_hat > 0 AND spec_hat < 1
       THEN least(CAST(n_negative AS DOUBLE),
                  spec_hat * (1 - spec_hat) * CAST(n_negative AS DOUBLE) * CAST(n_negative AS DOUBLE)
                  * CAST(n_clusters_neg - 1 AS DOUBLE) / (CAST(n_clusters_neg AS DOUBLE) * q_spec))
       ELSE CAST(n_negative AS DOUBLE) END
END AS spec_neff
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
      (CAST(sum(CASE WHEN y = 0 THEN component_dev * component_dev END) AS DOUBLE) / NULLIF(CAST(sum(1 - y) - 1 AS DOUBLE), CAST(0 AS DOUBLE))) AS s01,
      -- one row per cluster (cl_row = 1) carries the cluster's sums
      sum(CASE WHEN cl_row = 1 THEN 1 ELSE 0 END) AS n_patients,
      sum(CASE WHEN cl_row = 1 AND cl_m > 0 THEN 1 ELSE 0 END) AS n_clusters_pos,
      sum(CASE WHEN cl_row = 1 AND cl_n > 0 THEN 1 ELSE 0 END) AS n_clusters_neg,
      sum(CASE WHEN cl_row = 1 THEN (cl_v10 - cl_m * auc_hat) * (cl_v10 - cl_m * auc_hat) END) AS q10,
      sum(CASE WHEN cl_row = 1 THEN (cl_v01 - cl_n * auc_hat) * (cl_v01 - cl_n * auc_hat) END) AS q01,
      sum(CASE WHEN cl_row = 1 THEN (cl_v10 - cl_m * auc_hat) * (cl_v01 - cl_n * auc_hat) END) AS q11,
      sum(CASE WHEN cl_row = 1 AND cl_m > 0 THEN (cl_tp - cl_m * sens_hat) * (cl_tp - cl_m * sens_hat) END) AS q_sens,
      sum(CASE WHEN cl_row = 1 AND cl_n > 0 THEN (cl_tn - cl_n * spec_hat) * (cl_tn - cl_n * spec_hat) END) AS q_spec,
      max(sens_hat) AS sens_hat,
      max(spec_hat) AS spec_hat
    FROM (
      SELECT
        r.*,
        component - avg(component) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, y) AS component_dev,
        sum(y * component) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, `patient_key`) AS cl_v10,
        sum((1 - y) * component) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, `patient_key`) AS cl_v01,
        sum(y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, `patient_key`) AS cl_m,
        sum(1 - y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, `patient_key`) AS cl_n,
        sum(y * yhat) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, `patient_key`) AS cl_tp,
        sum((1 - y) * (1 - yhat)) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, `patient_key`) AS cl_tn,
        row_number() OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, `patient_key` ORDER BY p) AS cl_row,
        (CAST(sum(y * component) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`) AS DOUBLE) / NULLIF(CAST(group_pos AS DOUBLE), CAST(0 AS DOUBLE))) AS auc_hat,
        (CAST(sum(y * yhat) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`) AS DOUBLE) / NULLIF(CAST(group_pos AS DOUBLE), CAST(0 AS DOUBLE))) AS sens_hat,
        (CAST(sum((1 - y) * (1 - yhat)) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`) AS DOUBLE) / NULLIF(CAST(group_neg AS DOUBLE), CAST(0 AS DOUBLE))) AS spec_hat
      FROM (
        SELECT
          w.*,
          CASE WHEN y = 1
     THEN (sum(1 - y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key` ORDER BY p RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           - sum(1 - y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, p) / 2)
          / NULLIF(CAST(sum(1 - y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`) AS DOUBLE), CAST(0 AS DOUBLE))
     ELSE (sum(y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`)
           - sum(y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key` ORDER BY p RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           + sum(y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, p) / 2)
          / NULLIF(CAST(sum(y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`) AS DOUBLE), CAST(0 AS DOUBLE)) END AS component
        FROM (
          SELECT
            s.*,
            CASE WHEN p >= decision_threshold THEN 1 ELSE 0 END AS yhat,
            rank() OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key` ORDER BY p)
              + (count(*) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, p) - 1) / 2 AS avg_rank,
            sum(y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`) AS group_pos,
            sum(1 - y) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`) AS group_neg,
            abs(sum(y - p) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, cal_bin))
              / count(*) OVER (PARTITION BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`, cal_bin) AS abs_bin_gap
          FROM (
            SELECT i.*, least(CAST(floor(p * 10) AS INT), 9) AS cal_bin
            FROM (
SELECT model_name, model_version, cohort, institution_key, patient_key, label_value AS y, probability AS p, decision_threshold, split FROM `mi`.`eval_predictions`
UNION ALL
SELECT model_name, model_version, cohort, institution_key, patient_key, label_value AS y, probability AS p, decision_threshold, 'all' AS split FROM `mi`.`eval_predictions`
            ) i
            WHERE p IS NOT NULL AND y IN (0, 1)
          ) s
        ) w
      ) r
    ) c
    GROUP BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`
  ) a
) m
  ) m ON m.`model_name` <=> k.`model_name` AND m.`model_version` <=> k.`model_version` AND m.`cohort` <=> k.`cohort` AND m.`split` <=> k.`split` AND m.`institution_key` <=> k.`institution_key`
  LEFT JOIN (
    SELECT `model_name`, `model_version`, `cohort`, `split`, `institution_key`,
           sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS n_error,
           sum(CASE WHEN status = 'error' THEN 0 ELSE 1 END) AS n_unscored,
           sum(y) AS n_positive, sum(1 - y) AS n_negative,
           max(decision_threshold) AS decision_threshold
    FROM (SELECT model_name, model_version, cohort, institution_key, label_value AS y, decision_threshold, status, split FROM `mi`.`eval_unscored`
UNION ALL
SELECT model_name, model_version, cohort, institution_key, label_value AS y, decision_threshold, status, 'all' AS split FROM `mi`.`eval_unscored`
    ) u
    WHERE y IN (0, 1)
    GROUP BY `model_name`, `model_version`, `cohort`, `split`, `institution_key`
  ) f ON f.`model_name` <=> k.`model_name` AND f.`model_version` <=> k.`model_version` AND f.`cohort` <=> k.`cohort` AND f.`split` <=> k.`split` AND f.`institution_key` <=> k.`institution_key`
) x;

-- test assert_eval_metrics_in_range (singular, from tests/assert_eval_metrics_in_range.sql): passes when this returns no rows
SELECT model_name, model_version, cohort, split
FROM `mi`.`eval_metrics`
WHERE tp + fp + tn + fn <> n
   OR n_positive + n_negative <> n
   OR auc < 0 OR auc > 1
   OR auc_ci_lower > auc OR auc_ci_upper < auc
   OR sensitivity_ci_lower > sensitivity OR sensitivity_ci_upper < sensitivity
   OR specificity_ci_lower > specificity OR specificity_ci_upper < specificity
   OR accuracy_ci_lower > accuracy OR accuracy_ci_upper < accuracy
   OR brier < 0 OR brier > 1
   OR ece < 0 OR ece > 1
   OR (n_positive > 0 AND n_negative > 0 AND auc IS NULL);

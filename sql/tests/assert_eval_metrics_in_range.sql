-- Every rate lies in [0, 1], every interval contains its estimate, counts add up.
SELECT model_name, model_version, cohort, split
FROM {{ ref('eval_metrics') }}
WHERE tp + fp + tn + fn <> n
   OR n_positive + n_negative <> n
   OR auc < 0 OR auc > 1
   OR auc_ci_lower > auc OR auc_ci_upper < auc
   OR sensitivity_ci_lower > sensitivity OR sensitivity_ci_upper < sensitivity
   OR specificity_ci_lower > specificity OR specificity_ci_upper < specificity
   OR accuracy_ci_lower > accuracy OR accuracy_ci_upper < accuracy
   OR brier < 0 OR brier > 1
   OR ece < 0 OR ece > 1
   OR (n_positive > 0 AND n_negative > 0 AND auc IS NULL)

-- test accepted_values_eval_predictions_cohort (accepted_values, from models/evaluation/schema.yml): passes when this returns no rows
SELECT `cohort`, COUNT(*) AS n_records
FROM `mi`.`eval_predictions`
WHERE `cohort` IS NOT NULL AND `cohort` NOT IN ('all', 'adult_chest_xr')
GROUP BY `cohort`;

-- test not_null_eval_predictions_decision_threshold (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_predictions`
WHERE `decision_threshold` IS NULL;

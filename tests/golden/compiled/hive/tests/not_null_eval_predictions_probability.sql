-- test not_null_eval_predictions_probability (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_predictions`
WHERE `probability` IS NULL;

-- test not_null_eval_unscored_label_value (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_unscored`
WHERE `label_value` IS NULL;

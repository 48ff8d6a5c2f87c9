-- test not_null_eval_unscored_status (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_unscored`
WHERE `status` IS NULL;

-- test not_null_eval_predictions_sop_instance_uid (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_predictions`
WHERE `sop_instance_uid` IS NULL;

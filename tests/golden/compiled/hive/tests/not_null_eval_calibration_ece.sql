-- test not_null_eval_calibration_ece (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_calibration`
WHERE `ece` IS NULL;

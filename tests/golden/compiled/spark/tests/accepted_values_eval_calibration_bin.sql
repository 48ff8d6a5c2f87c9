-- test accepted_values_eval_calibration_bin (accepted_values, from models/evaluation/schema.yml): passes when this returns no rows
SELECT `bin`, COUNT(*) AS n_records
FROM `mi`.`eval_calibration`
WHERE `bin` IS NOT NULL AND `bin` NOT IN (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
GROUP BY `bin`;

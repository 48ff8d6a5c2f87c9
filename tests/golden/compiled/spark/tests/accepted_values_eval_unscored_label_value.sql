-- test accepted_values_eval_unscored_label_value (accepted_values, from models/evaluation/schema.yml): passes when this returns no rows
SELECT `label_value`, COUNT(*) AS n_records
FROM `mi`.`eval_unscored`
WHERE `label_value` IS NOT NULL AND `label_value` NOT IN (0, 1)
GROUP BY `label_value`;

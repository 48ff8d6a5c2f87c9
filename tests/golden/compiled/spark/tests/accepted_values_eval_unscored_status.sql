-- test accepted_values_eval_unscored_status (accepted_values, from models/evaluation/schema.yml): passes when this returns no rows
SELECT `status`, COUNT(*) AS n_records
FROM `mi`.`eval_unscored`
WHERE `status` IS NOT NULL AND `status` NOT IN ('error', 'unscored')
GROUP BY `status`;

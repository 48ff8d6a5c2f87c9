-- test accepted_values_eval_site_shortcut_split (accepted_values, from models/evaluation/schema.yml): passes when this returns no rows
SELECT `split`, COUNT(*) AS n_records
FROM `mi`.`eval_site_shortcut`
WHERE `split` IS NOT NULL AND `split` NOT IN ('train', 'validation', 'test', 'all')
GROUP BY `split`;

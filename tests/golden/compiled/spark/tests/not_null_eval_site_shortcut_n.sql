-- test not_null_eval_site_shortcut_n (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_site_shortcut`
WHERE `n` IS NULL;

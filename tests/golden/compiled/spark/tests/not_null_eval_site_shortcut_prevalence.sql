-- test not_null_eval_site_shortcut_prevalence (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_site_shortcut`
WHERE `prevalence` IS NULL;

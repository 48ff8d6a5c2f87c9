-- test not_null_eval_within_site_auc_n (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_within_site_auc`
WHERE `n` IS NULL;

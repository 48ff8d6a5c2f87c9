-- test not_null_eval_compare_versions_n_paired (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_compare_versions`
WHERE `n_paired` IS NULL;

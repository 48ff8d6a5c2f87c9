-- test not_null_eval_compare_versions_candidate_version (not_null, from models/evaluation/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`eval_compare_versions`
WHERE `candidate_version` IS NULL;

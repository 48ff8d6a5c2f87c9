-- test not_null_model_lineage_model_name (not_null, from models/lineage/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`model_lineage`
WHERE `model_name` IS NULL;

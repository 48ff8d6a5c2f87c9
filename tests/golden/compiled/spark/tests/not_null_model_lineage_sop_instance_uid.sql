-- test not_null_model_lineage_sop_instance_uid (not_null, from models/lineage/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`model_lineage`
WHERE `sop_instance_uid` IS NULL;

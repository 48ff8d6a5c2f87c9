-- test accepted_values_model_lineage_status (accepted_values, from models/lineage/schema.yml): passes when this returns no rows
SELECT `status`, COUNT(*) AS n_records
FROM `mi`.`model_lineage`
WHERE `status` IS NOT NULL AND `status` NOT IN ('ok', 'error')
GROUP BY `status`;

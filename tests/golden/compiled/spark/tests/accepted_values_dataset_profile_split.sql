-- test accepted_values_dataset_profile_split (accepted_values, from models/splits/schema.yml): passes when this returns no rows
SELECT `split`, COUNT(*) AS n_records
FROM `mi`.`dataset_profile`
WHERE `split` IS NOT NULL AND `split` NOT IN ('train', 'validation', 'test', 'all')
GROUP BY `split`;

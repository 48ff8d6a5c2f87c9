-- test unique_dataset_profile_split (unique, from models/splits/schema.yml): passes when this returns no rows
SELECT `split`, COUNT(*) AS n_records
FROM `mi`.`dataset_profile`
WHERE `split` IS NOT NULL
GROUP BY `split`
HAVING COUNT(*) > 1;

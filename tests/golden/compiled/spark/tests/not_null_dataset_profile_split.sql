-- test not_null_dataset_profile_split (not_null, from models/splits/schema.yml): passes when this returns no rows
SELECT *
FROM `mi`.`dataset_profile`
WHERE `split` IS NULL;

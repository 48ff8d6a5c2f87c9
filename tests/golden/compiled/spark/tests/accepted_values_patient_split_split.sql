-- test accepted_values_patient_split_split (accepted_values, from models/splits/schema.yml): passes when this returns no rows
SELECT `split`, COUNT(*) AS n_records
FROM `mi`.`patient_split`
WHERE `split` IS NOT NULL AND `split` NOT IN ('train', 'validation', 'test')
GROUP BY `split`;

-- test accepted_values_cohort_ct_pet_sequence (accepted_values, from models/cohorts/schema.yml): passes when this returns no rows
SELECT `sequence`, COUNT(*) AS n_records
FROM `mi`.`cohort_ct_pet`
WHERE `sequence` IS NOT NULL AND `sequence` NOT IN ('ct_first', 'pt_first')
GROUP BY `sequence`;

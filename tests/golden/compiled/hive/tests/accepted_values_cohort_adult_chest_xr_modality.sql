-- test accepted_values_cohort_adult_chest_xr_modality (accepted_values, from models/cohorts/schema.yml): passes when this returns no rows
SELECT `modality`, COUNT(*) AS n_records
FROM `mi`.`cohort_adult_chest_xr`
WHERE `modality` IS NOT NULL AND `modality` NOT IN ('CR', 'DX')
GROUP BY `modality`;

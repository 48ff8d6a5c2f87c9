-- test accepted_values_cohort_adult_chest_xr_view_position (accepted_values, from models/cohorts/schema.yml): passes when this returns no rows
SELECT `view_position`, COUNT(*) AS n_records
FROM `mi`.`cohort_adult_chest_xr`
WHERE `view_position` IS NOT NULL AND `view_position` NOT IN ('PA', 'AP')
GROUP BY `view_position`;

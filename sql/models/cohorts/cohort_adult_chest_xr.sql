{#-
  Adult chest radiographs, one row per image: CR/DX, body part CHEST, frontal views (PA/AP),
  age >= var('min_age'), study_date within var('start_date')..var('end_date').

  Incremental insert_overwrite by study_year, so the nightly `run --select tag:cohort_refresh`
  is idempotent and cheap: an incremental run rebuilds, from the source, only the study years
  that hold a qualifying image not yet in the cohort (loads only append), and overwrites exactly
  those year partitions with their complete contents. A second run finds nothing new, selects
  no rows and leaves every partition as it was. Changing a var, or deleting source rows, needs
  `--full-refresh` (a year partition is never emptied by an incremental run).
-#}
{{ config(materialized='incremental', incremental_strategy='insert_overwrite',
          partition_by=['study_year'], tags=['cohort_refresh', 'cohorts']) }}

{%- macro qualifies(a) %}
      {{ a }}.modality IN ('CR', 'DX')
  AND upper({{ a }}.body_part) = 'CHEST'
  AND upper({{ a }}.view_position) IN ({{ var('views', ['PA', 'AP']) | sqlstring }})
  AND {{ a }}.patient_age_years >= {{ var('min_age', 18) | number }}
  AND {{ a }}.study_date >= {{ var('start_date', '1900-01-01') | date }}
  AND {{ a }}.study_date <= {{ var('end_date', '2999-12-31') | date }}
  AND {{ a }}.study_year >= year({{ var('start_date', '1900-01-01') | date }})
  AND {{ a }}.study_year <= year({{ var('end_date', '2999-12-31') | date }})
{%- endmacro %}

SELECT
  m.patient_key,
  m.study_uid,
  m.series_uid,
  m.sop_instance_uid,
  m.study_date,
  m.study_month,
  m.modality,
  upper(m.view_position) AS view_position,
  m.patient_age_years,
  m.patient_sex,
  m.institution_key,
  m.manufacturer,
  m.manufacturer_model,
  m.`rows` AS image_rows,
  m.`columns` AS image_columns,
  m.photometric_interpretation,
  m.study_year
FROM {{ source('mi', 'dicom_metadata') }} m
{%- if is_incremental() %}
JOIN (
  -- the study years holding a qualifying image that the cohort does not have yet
  SELECT DISTINCT n.study_year AS refresh_year
  FROM {{ source('mi', 'dicom_metadata') }} n
  LEFT JOIN {{ this }} t ON t.sop_instance_uid = n.sop_instance_uid
  WHERE {{ qualifies('n') }}
    AND t.sop_instance_uid IS NULL
) r ON r.refresh_year = m.study_year
{%- endif %}
WHERE {{ qualifies('m') }}

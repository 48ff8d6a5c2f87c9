{#- One row per split (and 'all'): patients, studies, images, the class balance of the labelled
    images, image sizes, sites (institution_key) and manufacturers; and the counts behind the
    report's profile plots, as arrays of structs (order not significant):
      images_by_site          (institution_key, n_images, n_positive, n_negative)
      images_by_manufacturer  (manufacturer, n_images)
      images_by_size          (image_rows, image_columns, n_images) -#}
{{ config(materialized='table', tags=['splits']) }}
{%- set rows %}
  SELECT s.split, m.patient_key, m.study_uid, m.`rows` AS image_rows, m.`columns` AS image_columns,
         m.modality, m.institution_key, m.manufacturer, l.label_value
  FROM {{ source('mi', 'dicom_metadata') }} m
  JOIN {{ ref('patient_split') }} s ON s.patient_key = m.patient_key
  LEFT JOIN (
    SELECT sop_instance_uid, max(label_value) AS label_value
    FROM {{ source('mi', 'labels') }}
    WHERE label_value IN (0, 1)
    GROUP BY sop_instance_uid
  ) l ON l.sop_instance_uid = m.sop_instance_uid
  UNION ALL
  SELECT 'all' AS split, m.patient_key, m.study_uid, m.`rows`, m.`columns`,
         m.modality, m.institution_key, m.manufacturer, l.label_value
  FROM {{ source('mi', 'dicom_metadata') }} m
  LEFT JOIN (
    SELECT sop_instance_uid, max(label_value) AS label_value
    FROM {{ source('mi', 'labels') }}
    WHERE label_value IN (0, 1)
    GROUP BY sop_instance_uid
  ) l ON l.sop_instance_uid = m.sop_instance_uid
  WHERE m.patient_key IS NOT NULL
{%- endset %}
SELECT
  b.*,
  st.images_by_site,
  st.images_by_manufacturer,
  st.images_by_size
FROM (
SELECT
  split,
  count(DISTINCT patient_key) AS n_patients,
  count(DISTINCT study_uid) AS n_studies,
  count(*) AS n_images,
  sum(CASE WHEN label_value IS NOT NULL THEN 1 ELSE 0 END) AS n_labelled,
  sum(CASE WHEN label_value = 1 THEN 1 ELSE 0 END) AS n_positive,
  sum(CASE WHEN label_value = 0 THEN 1 ELSE 0 END) AS n_negative,
  {{ safe_div('sum(CASE WHEN label_value = 1 THEN 1 ELSE 0 END)',
              'sum(CASE WHEN label_value IS NOT NULL THEN 1 ELSE 0 END)') }} AS prevalence,
  min(image_rows) AS min_rows,
  max(image_rows) AS max_rows,
  avg(image_rows) AS mean_rows,
  min(image_columns) AS min_columns,
  max(image_columns) AS max_columns,
  avg(image_columns) AS mean_columns,
  concat_ws(',', sort_array(collect_set(modality))) AS modalities,
  count(DISTINCT institution_key) AS n_sites,
  concat_ws(',', sort_array(collect_set(institution_key))) AS sites,
  count(DISTINCT manufacturer) AS n_manufacturers,
  concat_ws(',', sort_array(collect_set(manufacturer))) AS manufacturers
FROM ({{ rows }}
) x
GROUP BY split
) b
LEFT JOIN (
  -- one pass: the three breakdowns as grouping sets, each struct collected from its own set
  SELECT
    split,
    collect_list(CASE WHEN g_site = 0 THEN named_struct('institution_key', institution_key, 'n_images', n_images,
                                                        'n_positive', n_positive, 'n_negative', n_negative) END)
      AS images_by_site,
    collect_list(CASE WHEN g_manufacturer = 0 THEN named_struct('manufacturer', manufacturer, 'n_images', n_images) END)
      AS images_by_manufacturer,
    collect_list(CASE WHEN g_size = 0 THEN named_struct('image_rows', image_rows, 'image_columns', image_columns,
                                                        'n_images', n_images) END) AS images_by_size
  FROM (
    SELECT split, institution_key, manufacturer, image_rows, image_columns,
           grouping(institution_key) AS g_site, grouping(manufacturer) AS g_manufacturer,
           grouping(image_rows) AS g_size,
           count(*) AS n_images,
           sum(CASE WHEN label_value = 1 THEN 1 ELSE 0 END) AS n_positive,
           sum(CASE WHEN label_value = 0 THEN 1 ELSE 0 END) AS n_negative
    FROM ({{ rows }}
    ) x
    GROUP BY split, institution_key, manufacturer, image_rows, image_columns
    GROUPING SETS ((split, institution_key), (split, manufacturer), (split, image_rows, image_columns))
  ) c
  GROUP BY split
) st ON st.split = b.split

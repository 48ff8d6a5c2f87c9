{#-
  Deterministic patient-level split: every patient (and so every image of the patient) is in
  exactly one of train / validation / test.

  u = first 32 bits of md5(var('split_salt') || ':' || patient_key) / 2^32, in [0, 1):
  train when u < train_ratio, validation when u < train_ratio + validation_ratio, else test.
  md5 and conv agree on Hive, Spark and Python; hash() does not (Hive: Java hashCode, Spark:
  Murmur3), see macros/util.sql stable_fraction(). Same salt and ratios, same split, forever.
-#}
{{ config(materialized='table', tags=['splits']) }}
{%- set t = var('train_ratio', 0.7) | number | float -%}
{%- set v = var('validation_ratio', 0.15) | number | float -%}
{%- if not (0 <= t <= 1 and 0 <= v <= 1 and t + v <= 1 + 1e-12) -%}
{{ fail('patient_split: train_ratio and validation_ratio must be in [0, 1] and add up to at most 1') }}
{%- endif %}
SELECT
  patient_key,
  CASE WHEN u < CAST({{ t | number }} AS DOUBLE) THEN 'train'
       WHEN u < CAST({{ (t + v) | number }} AS DOUBLE) THEN 'validation'
       ELSE 'test' END AS split,
  u AS split_fraction,
  n_studies,
  n_images
FROM (
  SELECT patient_key,
         {{ stable_fraction('patient_key', var('split_salt', 'mi')) }} AS u,
         count(DISTINCT study_uid) AS n_studies,
         count(*) AS n_images
  FROM {{ source('mi', 'dicom_metadata') }}
  WHERE patient_key IS NOT NULL
  GROUP BY patient_key
) p

{#- eval_metrics stratified by scanner manufacturer (NULL is a stratum of its own). -#}
{{ config(materialized='table', tags=['evaluation']) }}
{{ binary_metrics(
     with_all_split(ref('eval_predictions'),
                    ['model_name', 'model_version', 'cohort', 'manufacturer', 'patient_key', 'label_value AS y', 'probability AS p', 'decision_threshold']),
     ['model_name', 'model_version', 'cohort', 'split', 'manufacturer'],
     failed=with_all_split(ref('eval_unscored'),
                           ['model_name', 'model_version', 'cohort', 'manufacturer', 'label_value AS y', 'decision_threshold', 'status'])) }}

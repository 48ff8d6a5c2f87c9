{#- eval_metrics stratified by site (institution_key; NULL is a stratum of its own). -#}
{{ config(materialized='table', tags=['evaluation']) }}
{{ binary_metrics(
     with_all_split(ref('eval_predictions'),
                    ['model_name', 'model_version', 'cohort', 'institution_key', 'patient_key', 'label_value AS y', 'probability AS p', 'decision_threshold']),
     ['model_name', 'model_version', 'cohort', 'split', 'institution_key'],
     failed=with_all_split(ref('eval_unscored'),
                           ['model_name', 'model_version', 'cohort', 'institution_key', 'label_value AS y', 'decision_threshold', 'status'])) }}

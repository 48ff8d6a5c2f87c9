{#- Metrics per model_name, model_version, cohort and split (train / validation / test and
    'all'); see macros/metrics.sql for every formula. -#}
{{ config(materialized='table', tags=['evaluation']) }}
{{ binary_metrics(
     with_all_split(ref('eval_predictions'),
                    ['model_name', 'model_version', 'cohort', 'label_value AS y', 'probability AS p',
                     'decision_threshold']),
     ['model_name', 'model_version', 'cohort', 'split']) }}

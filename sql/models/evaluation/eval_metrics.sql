{#- Metrics per model_name, model_version, cohort and split (train / validation / test and
    'all'), with coverage (n_scored, n_error, n_unscored from eval_unscored), patient-clustered
    intervals and failures counted as wrong; see macros/metrics.sql for every formula.
    Split 'all' pools every split, training images included: it describes the data, it is not a
    performance estimate. Headline numbers (the report, the demo) are split 'test'. -#}
{{ config(materialized='table', tags=['evaluation']) }}
{{ binary_metrics(
     with_all_split(ref('eval_predictions'),
                    ['model_name', 'model_version', 'cohort', 'patient_key', 'label_value AS y', 'probability AS p', 'decision_threshold']),
     ['model_name', 'model_version', 'cohort', 'split'],
     failed=with_all_split(ref('eval_unscored'),
                           ['model_name', 'model_version', 'cohort', 'label_value AS y', 'decision_threshold', 'status'])) }}

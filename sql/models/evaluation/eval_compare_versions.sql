{#- Two versions of a model on the same cohort and split, compared on the images both scored.
    Every pair (base, candidate) where the base comes first in registration order (registered_at,
    then the version string; versions missing from the registry last); is_parent says the
    registry names the base as the candidate's parent_version.

    n_paired images were scored by both versions; n_base_only / n_candidate_only were scored by
    one only and are left out of every paired figure (their own metrics are in eval_metrics).
    On the paired images:
      AUC        DeLong, DeLong & Clarke-Pearson (1988) test for two correlated ROC curves: with
                 D = the candidate's structural component minus the base's (V10 for a
                 positive, V01 for a negative, each version's components over the paired
                 images), delta_auc = mean of D over positives, var = S10(D) / n1 + S01(D) / n0
                 (sample variances), 95% interval delta ± z se, two-sided normal p-value.
      sensitivity, specificity at each version's own decision threshold
                 McNemar's test with Edwards' continuity correction: b = images the base gets
                 right and the candidate wrong, c = the reverse (positives for sensitivity,
                 negatives for specificity), chi2 = max(|b - c| - 1, 0)^2 / (b + c) on 1 degree
                 of freedom; NULL without discordant images.
      delta_brier  mean (p_c - y)^2 - mean (p_b - y)^2 (negative is better).
    A p-value is NULL when its statistic is undefined (a zero standard error, one class only). -#}
{{ config(materialized='table', tags=['evaluation']) }}
{%- set pair = ['model_name', 'cohort', 'split', 'base_version', 'candidate_version'] -%}
{%- set pg = pair | ident -%}
{%- set ranked %}
  SELECT e.model_name, e.model_version, e.cohort, e.split, e.n_scored, v.version_order, v.parent_version
  FROM {{ ref('eval_metrics') }} e
  JOIN (
    SELECT model_name, model_version, parent_version,
           row_number() OVER (PARTITION BY model_name
                              ORDER BY CASE WHEN registered_at IS NULL THEN 1 ELSE 0 END, registered_at,
                                       model_version) AS version_order
    FROM (
      SELECT k.model_name, k.model_version, max(r.registered_at) AS registered_at,
             max(r.parent_version) AS parent_version
      FROM (SELECT DISTINCT model_name, model_version FROM {{ ref('eval_metrics') }}) k
      LEFT JOIN {{ source('mi', 'model_versions') }} r ON r.name = k.model_name AND r.version = k.model_version
      GROUP BY k.model_name, k.model_version
    ) rv
  ) v ON v.model_name = e.model_name AND v.model_version = e.model_version
{%- endset %}
{%- set scored %}
{{ with_all_split(ref('eval_predictions'), ['model_name', 'model_version', 'cohort', 'sop_instance_uid',
                                            'label_value', 'probability', 'decision_threshold']) }}
{%- endset %}
SELECT
  b.model_name,
  b.cohort,
  b.split,
  b.model_version AS base_version,
  c.model_version AS candidate_version,
  CASE WHEN c.parent_version = b.model_version THEN TRUE ELSE FALSE END AS is_parent,
  b.n_scored AS base_n_scored,
  c.n_scored AS candidate_n_scored,
  coalesce(t.n_paired, CAST(0 AS BIGINT)) AS n_paired,
  b.n_scored - coalesce(t.n_paired, CAST(0 AS BIGINT)) AS n_base_only,
  c.n_scored - coalesce(t.n_paired, CAST(0 AS BIGINT)) AS n_candidate_only,
  t.n_paired_positive, t.n_paired_negative,
  t.base_auc, t.candidate_auc, t.delta_auc, t.delta_auc_se,
  {{ normal_ci_lower('t.delta_auc', 't.delta_auc_se', lo=-1) }} AS delta_auc_ci_lower,
  {{ normal_ci_upper('t.delta_auc', 't.delta_auc_se') }} AS delta_auc_ci_upper,
  t.delta_auc_z,
  CASE WHEN t.delta_auc_z IS NOT NULL THEN {{ normal_two_sided_p('t.auc_abs_z') }} END AS delong_p,
  t.base_sensitivity, t.candidate_sensitivity, t.candidate_sensitivity - t.base_sensitivity AS delta_sensitivity,
  t.sensitivity_base_only_correct, t.sensitivity_candidate_only_correct, t.sensitivity_mcnemar_chi2,
  CASE WHEN t.sensitivity_mcnemar_chi2 IS NOT NULL THEN {{ normal_two_sided_p('t.sens_abs_z') }} END AS sensitivity_mcnemar_p,
  t.base_specificity, t.candidate_specificity, t.candidate_specificity - t.base_specificity AS delta_specificity,
  t.specificity_base_only_correct, t.specificity_candidate_only_correct, t.specificity_mcnemar_chi2,
  CASE WHEN t.specificity_mcnemar_chi2 IS NOT NULL THEN {{ normal_two_sided_p('t.spec_abs_z') }} END AS specificity_mcnemar_p,
  t.delta_brier
FROM ({{ ranked }}
) b
JOIN ({{ ranked }}
) c ON c.model_name = b.model_name AND c.cohort = b.cohort AND c.split = b.split
   AND c.version_order > b.version_order
LEFT JOIN (
  SELECT
    s.*,
    least(abs(delta_auc_z), CAST(8 AS DOUBLE)) AS auc_abs_z,
    least(sqrt(sensitivity_mcnemar_chi2), CAST(8 AS DOUBLE)) AS sens_abs_z,
    least(sqrt(specificity_mcnemar_chi2), CAST(8 AS DOUBLE)) AS spec_abs_z
  FROM (
    SELECT
      a.*,
      {{ safe_div('delta_auc', 'delta_auc_se') }} AS delta_auc_z,
      {{ mcnemar_chi2('sensitivity_base_only_correct', 'sensitivity_candidate_only_correct') }} AS sensitivity_mcnemar_chi2,
      {{ mcnemar_chi2('specificity_base_only_correct', 'specificity_candidate_only_correct') }} AS specificity_mcnemar_chi2
    FROM (
      SELECT
        {{ pg }},
        count(*) AS n_paired,
        sum(y) AS n_paired_positive,
        sum(1 - y) AS n_paired_negative,
        avg(CASE WHEN y = 1 THEN comp_b END) AS base_auc,
        avg(CASE WHEN y = 1 THEN comp_c END) AS candidate_auc,
        avg(CASE WHEN y = 1 THEN comp_c - comp_b END) AS delta_auc,
        CASE WHEN sum(y) > 1 AND sum(1 - y) > 1
             THEN sqrt({{ safe_div('var_samp(CASE WHEN y = 1 THEN comp_c - comp_b END)', 'sum(y)') }}
                       + {{ safe_div('var_samp(CASE WHEN y = 0 THEN comp_c - comp_b END)', 'sum(1 - y)') }}) END AS delta_auc_se,
        {{ safe_div('sum(y * yhat_b)', 'sum(y)') }} AS base_sensitivity,
        {{ safe_div('sum(y * yhat_c)', 'sum(y)') }} AS candidate_sensitivity,
        sum(y * yhat_b * (1 - yhat_c)) AS sensitivity_base_only_correct,
        sum(y * (1 - yhat_b) * yhat_c) AS sensitivity_candidate_only_correct,
        {{ safe_div('sum((1 - y) * (1 - yhat_b))', 'sum(1 - y)') }} AS base_specificity,
        {{ safe_div('sum((1 - y) * (1 - yhat_c))', 'sum(1 - y)') }} AS candidate_specificity,
        sum((1 - y) * (1 - yhat_b) * yhat_c) AS specificity_base_only_correct,
        sum((1 - y) * yhat_b * (1 - yhat_c)) AS specificity_candidate_only_correct,
        avg((pc - y) * (pc - y)) - avg((pb - y) * (pb - y)) AS delta_brier
      FROM (
        SELECT
          x.*,
          {{ delong_component('pb', 'y', pg) }} AS comp_b,
          {{ delong_component('pc', 'y', pg) }} AS comp_c
        FROM (
          SELECT
            bs.model_name, bs.cohort, bs.split,
            bs.model_version AS base_version, cs.model_version AS candidate_version,
            bs.label_value AS y, bs.probability AS pb, cs.probability AS pc,
            CASE WHEN bs.probability >= bs.decision_threshold THEN 1 ELSE 0 END AS yhat_b,
            CASE WHEN cs.probability >= cs.decision_threshold THEN 1 ELSE 0 END AS yhat_c
          FROM ({{ scored }}
          ) bs
          JOIN ({{ scored }}
          ) cs ON cs.model_name = bs.model_name AND cs.cohort = bs.cohort AND cs.split = bs.split
              AND cs.sop_instance_uid = bs.sop_instance_uid AND cs.model_version <> bs.model_version
        ) x
      ) d
      GROUP BY {{ pg }}
    ) a
  ) s
) t ON t.model_name = b.model_name AND t.cohort = b.cohort AND t.split = b.split
   AND t.base_version = b.model_version AND t.candidate_version = c.model_version

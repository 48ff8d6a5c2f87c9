{#-
  Binary classification metrics as one portable SELECT (Hive 3/4 and Spark SQL).

  binary_metrics(src, groups, failed, cluster): `src` is a subquery (SQL text) of the scored
  images with the columns named in `groups` plus y (0/1 truth), p (positive-class probability,
  DOUBLE), decision_threshold (DOUBLE) and the cluster column (patient_key); `failed` is one of
  the cohort images that were not scored, with `groups`, y, decision_threshold and status
  ('error' | 'unscored'). One output row per group of either:

    n_scored, n_error, n_unscored, n_cohort (= the three), coverage = n_scored / n_cohort;

    n, n_positive, n_negative, prevalence, decision_threshold, tp, fp, tn, fn (p >= threshold is
    positive), accuracy, sensitivity, specificity (with Wilson 95% intervals), ppv, npv, f1,
    auc            Mann-Whitney rank sum with average ranks for ties:
                   (sum of positives' ranks - n1 (n1 + 1) / 2) / (n1 n0)
    auc_se, auc_ci_lower, auc_ci_upper
                   DeLong: V10_i = (#neg < p_i + #neg = p_i / 2) / n0 for each positive,
                   V01_j = (#pos > p_j + #pos = p_j / 2) / n1 for each negative,
                   var = S10 / n1 + S01 / n0 (S = sample variances of the components),
                   auc ± z sqrt(var), clipped to [0, 1]
    brier          mean((p - y)^2)
    ece            sum over 10 equal-width bins b = least(floor(10 p), 9) of |sum(y - p)| / n
  Patient-clustered intervals (n_patients clusters, next to the image-level ones):
    auc_se_clustered, auc_ci_lower_clustered, auc_ci_upper_clustered
                   Obuchowski (1997): per cluster i, V10_i = sum of its positives' V10, V01_i =
                   sum of its negatives' V01, m_i / n_i its positives / negatives, I clusters,
                   var = I / (I - 1) * (sum (V10_i - m_i auc)^2 / M^2 + sum (V01_i - n_i auc)^2 / N^2
                                        + 2 sum (V10_i - m_i auc)(V01_i - n_i auc) / (M N))
    sensitivity_ci_*_clustered, specificity_ci_*_clustered
                   cluster-robust ratio-estimator variance, over the I' clusters with at least
                   one image in the denominator: var = I' / (I' - 1) sum (k_i - p m_i)^2 / M^2;
                   then a Wilson interval on the effective size n_eff = min(n, p (1 - p) / var)
                   (n when p is 0 or 1, var is 0 or I' < 2)
  Failures counted as wrong (every cohort image, N1 / N0 positives / negatives of the cohort):
    sensitivity_failed_as_wrong = tp / N1, specificity_failed_as_wrong = tn / N0 (Wilson
    intervals), accuracy_failed_as_wrong = (tp + tn) / n_cohort, auc_failed_as_wrong = the AUC
    with failed positives ranked below and failed negatives above every image
    = auc n_positive n_negative / (N1 N0) (0 when no pair of scored images exists).

  A group with one class only gives NULL AUC (and NULL sensitivity without positives, NULL
  specificity without negatives), not an error; equal scores give AUC 0.5. Ratios with a zero
  denominator are NULL (Spark 4 runs with ANSI mode: x / 0 would fail). Group columns may be
  NULL (e.g. an unknown site): every window and GROUP BY keeps NULL as a group of its own.
-#}
{% macro binary_metrics(src, groups, failed, cluster='patient_key') -%}
{%- set g = groups | ident -%}
{%- set cl = cluster | ident -%}
{%- set passthrough = ['prevalence', 'accuracy', 'accuracy_ci_lower', 'accuracy_ci_upper',
      'sensitivity', 'sensitivity_ci_lower', 'sensitivity_ci_upper', 'specificity',
      'specificity_ci_lower', 'specificity_ci_upper', 'ppv', 'npv', 'f1', 'auc', 'auc_se',
      'auc_ci_lower', 'auc_ci_upper', 'brier', 'ece', 'auc_se_clustered', 'auc_ci_lower_clustered',
      'auc_ci_upper_clustered', 'sensitivity_ci_lower_clustered', 'sensitivity_ci_upper_clustered',
      'specificity_ci_lower_clustered', 'specificity_ci_upper_clustered'] -%}
SELECT
  {{ g }},
  n_scored, n_error, n_unscored, n_cohort,
  {{ safe_div('n_scored', 'n_cohort') }} AS coverage,
  n_scored AS n, n_positive, n_negative, decision_threshold, tp, fp, tn, fn,
  {{ passthrough | join(', ') }},
  n_patients,
  cohort_positive, cohort_negative,
  {{ safe_div('tp', 'cohort_positive') }} AS sensitivity_failed_as_wrong,
  {{ wilson_lower('tp', 'cohort_positive') }} AS sensitivity_failed_as_wrong_ci_lower,
  {{ wilson_upper('tp', 'cohort_positive') }} AS sensitivity_failed_as_wrong_ci_upper,
  {{ safe_div('tn', 'cohort_negative') }} AS specificity_failed_as_wrong,
  {{ wilson_lower('tn', 'cohort_negative') }} AS specificity_failed_as_wrong_ci_lower,
  {{ wilson_upper('tn', 'cohort_negative') }} AS specificity_failed_as_wrong_ci_upper,
  {{ safe_div('tp + tn', 'n_cohort') }} AS accuracy_failed_as_wrong,
  CASE WHEN cohort_positive > 0 AND cohort_negative > 0
       THEN coalesce(auc, CAST(0 AS DOUBLE)) * {{ safe_div('n_positive * n_negative', 'cohort_positive * cohort_negative') }}
  END AS auc_failed_as_wrong
FROM (
  SELECT
    {% for c in groups %}k.{{ c | ident }}, {% endfor %}
    coalesce(m.n, CAST(0 AS BIGINT)) AS n_scored,
    coalesce(f.n_error, CAST(0 AS BIGINT)) AS n_error,
    coalesce(f.n_unscored, CAST(0 AS BIGINT)) AS n_unscored,
    coalesce(m.n, CAST(0 AS BIGINT)) + coalesce(f.n_error + f.n_unscored, CAST(0 AS BIGINT)) AS n_cohort,
    coalesce(m.n_positive, CAST(0 AS BIGINT)) AS n_positive,
    coalesce(m.n_negative, CAST(0 AS BIGINT)) AS n_negative,
    coalesce(m.n_positive, CAST(0 AS BIGINT)) + coalesce(f.n_positive, CAST(0 AS BIGINT)) AS cohort_positive,
    coalesce(m.n_negative, CAST(0 AS BIGINT)) + coalesce(f.n_negative, CAST(0 AS BIGINT)) AS cohort_negative,
    coalesce(m.decision_threshold, f.decision_threshold) AS decision_threshold,
    coalesce(m.tp, CAST(0 AS BIGINT)) AS tp, coalesce(m.fp, CAST(0 AS BIGINT)) AS fp,
    coalesce(m.tn, CAST(0 AS BIGINT)) AS tn, coalesce(m.fn, CAST(0 AS BIGINT)) AS fn,
    coalesce(m.n_patients, CAST(0 AS BIGINT)) AS n_patients,
    {% for c in passthrough %}m.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
  FROM (
    SELECT DISTINCT {{ g }} FROM (
      SELECT {{ g }} FROM ({{ src }}
      ) i
      UNION ALL
      SELECT {{ g }} FROM ({{ failed }}
      ) u
    ) keys
  ) k
  LEFT JOIN (
{{ _scored_metrics(src, groups, cl) }}
  ) m ON {% for c in groups %}{{ ' AND ' if not loop.first }}m.{{ c | ident }} <=> k.{{ c | ident }}{% endfor %}
  LEFT JOIN (
    SELECT {{ g }},
           sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS n_error,
           sum(CASE WHEN status = 'error' THEN 0 ELSE 1 END) AS n_unscored,
           sum(y) AS n_positive, sum(1 - y) AS n_negative,
           max(decision_threshold) AS decision_threshold
    FROM ({{ failed }}
    ) u
    WHERE y IN (0, 1)
    GROUP BY {{ g }}
  ) f ON {% for c in groups %}{{ ' AND ' if not loop.first }}f.{{ c | ident }} <=> k.{{ c | ident }}{% endfor %}
) x
{%- endmacro %}

{#- The metrics of the scored images of `src`, one row per group (binary_metrics without the
    coverage and failed-as-wrong columns). -#}
{% macro _scored_metrics(src, groups, cl) -%}
{%- set g = groups | ident -%}
SELECT
  {{ g }},
  n, n_positive, n_negative,
  {{ safe_div('n_positive', 'n') }} AS prevalence,
  decision_threshold,
  tp, fp, tn, fn,
  {{ safe_div('tp + tn', 'n') }} AS accuracy,
  {{ wilson_lower('tp + tn', 'n') }} AS accuracy_ci_lower,
  {{ wilson_upper('tp + tn', 'n') }} AS accuracy_ci_upper,
  {{ safe_div('tp', 'tp + fn') }} AS sensitivity,
  {{ wilson_lower('tp', 'tp + fn') }} AS sensitivity_ci_lower,
  {{ wilson_upper('tp', 'tp + fn') }} AS sensitivity_ci_upper,
  {{ safe_div('tn', 'tn + fp') }} AS specificity,
  {{ wilson_lower('tn', 'tn + fp') }} AS specificity_ci_lower,
  {{ wilson_upper('tn', 'tn + fp') }} AS specificity_ci_upper,
  {{ safe_div('tp', 'tp + fp') }} AS ppv,
  {{ safe_div('tn', 'tn + fn') }} AS npv,
  {{ safe_div('2 * tp', '2 * tp + fp + fn') }} AS f1,
  auc,
  auc_se,
  {{ normal_ci_lower('auc', 'auc_se') }} AS auc_ci_lower,
  {{ normal_ci_upper('auc', 'auc_se') }} AS auc_ci_upper,
  brier,
  ece,
  n_patients,
  auc_se_clustered,
  {{ normal_ci_lower('auc', 'auc_se_clustered') }} AS auc_ci_lower_clustered,
  {{ normal_ci_upper('auc', 'auc_se_clustered') }} AS auc_ci_upper_clustered,
  {{ wilson_lower('sens_hat * sens_neff', 'sens_neff') }} AS sensitivity_ci_lower_clustered,
  {{ wilson_upper('sens_hat * sens_neff', 'sens_neff') }} AS sensitivity_ci_upper_clustered,
  {{ wilson_lower('spec_hat * spec_neff', 'spec_neff') }} AS specificity_ci_lower_clustered,
  {{ wilson_upper('spec_hat * spec_neff', 'spec_neff') }} AS specificity_ci_upper_clustered
FROM (
  SELECT
    {{ g }},
    n, n_positive, n_negative, decision_threshold, tp, fp, tn, fn, brier, ece, auc, n_patients,
    sens_hat, spec_hat,
    sqrt({{ safe_div('s10', 'n_positive') }} + {{ safe_div('s01', 'n_negative') }}) AS auc_se,
    -- greatest() skips a NULL on Spark and returns NULL on Hive: test for one class first
    CASE WHEN n_patients > 1 AND auc IS NOT NULL THEN sqrt(greatest(CAST(0 AS DOUBLE),
      {{ safe_div('n_patients', 'n_patients - 1') }}
      * ({{ safe_div('q10', 'n_positive * n_positive') }} + {{ safe_div('q01', 'n_negative * n_negative') }}
         + 2 * {{ safe_div('q11', 'n_positive * n_negative') }}))) END AS auc_se_clustered,
    {{ effective_n('sens_hat', 'n_positive', 'q_sens', 'n_clusters_pos') }} AS sens_neff,
    {{ effective_n('spec_hat', 'n_negative', 'q_spec', 'n_clusters_neg') }} AS spec_neff
  FROM (
    SELECT
      {{ g }},
      count(*) AS n,
      sum(y) AS n_positive,
      sum(1 - y) AS n_negative,
      max(decision_threshold) AS decision_threshold,
      sum(y * yhat) AS tp,
      sum((1 - y) * yhat) AS fp,
      sum((1 - y) * (1 - yhat)) AS tn,
      sum(y * (1 - yhat)) AS fn,
      avg((p - y) * (p - y)) AS brier,
      {{ safe_div('sum(abs_bin_gap)', 'count(*)') }} AS ece,
      {{ safe_div('sum(y * avg_rank) - sum(y) * (sum(y) + 1) / 2', 'sum(y) * sum(1 - y)') }} AS auc,
      {{ safe_div('sum(CASE WHEN y = 1 THEN component_dev * component_dev END)', 'sum(y) - 1') }} AS s10,
      {{ safe_div('sum(CASE WHEN y = 0 THEN component_dev * component_dev END)', 'sum(1 - y) - 1') }} AS s01,
      -- one row per cluster (cl_row = 1) carries the cluster's sums
      sum(CASE WHEN cl_row = 1 THEN 1 ELSE 0 END) AS n_patients,
      sum(CASE WHEN cl_row = 1 AND cl_m > 0 THEN 1 ELSE 0 END) AS n_clusters_pos,
      sum(CASE WHEN cl_row = 1 AND cl_n > 0 THEN 1 ELSE 0 END) AS n_clusters_neg,
      sum(CASE WHEN cl_row = 1 THEN (cl_v10 - cl_m * auc_hat) * (cl_v10 - cl_m * auc_hat) END) AS q10,
      sum(CASE WHEN cl_row = 1 THEN (cl_v01 - cl_n * auc_hat) * (cl_v01 - cl_n * auc_hat) END) AS q01,
      sum(CASE WHEN cl_row = 1 THEN (cl_v10 - cl_m * auc_hat) * (cl_v01 - cl_n * auc_hat) END) AS q11,
      sum(CASE WHEN cl_row = 1 AND cl_m > 0 THEN (cl_tp - cl_m * sens_hat) * (cl_tp - cl_m * sens_hat) END) AS q_sens,
      sum(CASE WHEN cl_row = 1 AND cl_n > 0 THEN (cl_tn - cl_n * spec_hat) * (cl_tn - cl_n * spec_hat) END) AS q_spec,
      max(sens_hat) AS sens_hat,
      max(spec_hat) AS spec_hat
    FROM (
      SELECT
        r.*,
        component - avg(component) OVER (PARTITION BY {{ g }}, y) AS component_dev,
        sum(y * component) OVER (PARTITION BY {{ g }}, {{ cl }}) AS cl_v10,
        sum((1 - y) * component) OVER (PARTITION BY {{ g }}, {{ cl }}) AS cl_v01,
        sum(y) OVER (PARTITION BY {{ g }}, {{ cl }}) AS cl_m,
        sum(1 - y) OVER (PARTITION BY {{ g }}, {{ cl }}) AS cl_n,
        sum(y * yhat) OVER (PARTITION BY {{ g }}, {{ cl }}) AS cl_tp,
        sum((1 - y) * (1 - yhat)) OVER (PARTITION BY {{ g }}, {{ cl }}) AS cl_tn,
        row_number() OVER (PARTITION BY {{ g }}, {{ cl }} ORDER BY p) AS cl_row,
        {{ safe_div('sum(y * component) OVER (PARTITION BY ' ~ g ~ ')', 'group_pos') }} AS auc_hat,
        {{ safe_div('sum(y * yhat) OVER (PARTITION BY ' ~ g ~ ')', 'group_pos') }} AS sens_hat,
        {{ safe_div('sum((1 - y) * (1 - yhat)) OVER (PARTITION BY ' ~ g ~ ')', 'group_neg') }} AS spec_hat
      FROM (
        SELECT
          w.*,
          {{ delong_component('p', 'y', g) }} AS component
        FROM (
          SELECT
            s.*,
            CASE WHEN p >= decision_threshold THEN 1 ELSE 0 END AS yhat,
            rank() OVER (PARTITION BY {{ g }} ORDER BY p)
              + (count(*) OVER (PARTITION BY {{ g }}, p) - 1) / 2 AS avg_rank,
            sum(y) OVER (PARTITION BY {{ g }}) AS group_pos,
            sum(1 - y) OVER (PARTITION BY {{ g }}) AS group_neg,
            abs(sum(y - p) OVER (PARTITION BY {{ g }}, cal_bin))
              / count(*) OVER (PARTITION BY {{ g }}, cal_bin) AS abs_bin_gap
          FROM (
            SELECT i.*, {{ calibration_bin('p') }} AS cal_bin
            FROM (
{{ src }}
            ) i
            WHERE p IS NOT NULL AND y IN (0, 1)
          ) s
        ) w
      ) r
    ) c
    GROUP BY {{ g }}
  ) a
) m
{%- endmacro %}

{#- The DeLong structural component of score `p` (truth `y`) within the window partition
    `part`: for a positive V10 = (#negatives below p + #negatives tied / 2) / #negatives, for a
    negative V01 = (#positives above p + #positives tied / 2) / #positives (NULL without the
    other class). The mean of either over its class is the AUC. -#}
{% macro delong_component(p, y, part) -%}
CASE WHEN {{ y }} = 1
     THEN (sum(1 - {{ y }}) OVER (PARTITION BY {{ part }} ORDER BY {{ p }} RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           - sum(1 - {{ y }}) OVER (PARTITION BY {{ part }}, {{ p }}) / 2)
          / NULLIF(CAST(sum(1 - {{ y }}) OVER (PARTITION BY {{ part }}) AS DOUBLE), CAST(0 AS DOUBLE))
     ELSE (sum({{ y }}) OVER (PARTITION BY {{ part }})
           - sum({{ y }}) OVER (PARTITION BY {{ part }} ORDER BY {{ p }} RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           + sum({{ y }}) OVER (PARTITION BY {{ part }}, {{ p }}) / 2)
          / NULLIF(CAST(sum({{ y }}) OVER (PARTITION BY {{ part }}) AS DOUBLE), CAST(0 AS DOUBLE)) END
{%- endmacro %}

{#- estimate ± z95 * se clipped to [lo, hi]; NULL when se is NULL. -#}
{% macro normal_ci_lower(est, se, lo=0) -%}
CASE WHEN {{ se }} IS NOT NULL THEN greatest(CAST({{ lo | number }} AS DOUBLE), {{ est }} - {{ z95() }} * {{ se }}) END
{%- endmacro %}

{% macro normal_ci_upper(est, se, hi=1) -%}
CASE WHEN {{ se }} IS NOT NULL THEN least(CAST({{ hi | number }} AS DOUBLE), {{ est }} + {{ z95() }} * {{ se }}) END
{%- endmacro %}

{#- The effective sample size of a clustered proportion p_hat out of n (see binary_metrics):
    min(n, p (1 - p) / var) with var = I / (I - 1) q / n^2; n when the variance is 0 or cannot
    be estimated (I < 2) or p is 0 or 1. NULL when n is 0. -#}
{% macro effective_n(p_hat, n, q, clusters) -%}
CASE WHEN {{ n }} > 0 THEN
  CASE WHEN {{ clusters }} > 1 AND {{ q }} > 0 AND {{ p_hat }} > 0 AND {{ p_hat }} < 1
       THEN least(CAST({{ n }} AS DOUBLE),
                  {{ p_hat }} * (1 - {{ p_hat }}) * CAST({{ n }} AS DOUBLE) * CAST({{ n }} AS DOUBLE)
                  * CAST({{ clusters }} - 1 AS DOUBLE) / (CAST({{ clusters }} AS DOUBLE) * {{ q }}))
       ELSE CAST({{ n }} AS DOUBLE) END
END
{%- endmacro %}

{#- Two-sided normal p-value 2 (1 - Phi(a)) of a column `a` holding |z| (clipped to at most 8
    by the caller: beyond, p < 1.3e-15). Phi by Marsaglia's (2004) series
    Phi(a) = 1/2 + phi(a) (a + a^3/3 + a^5/(3*5) + ...), 100 terms: absolute error below 1e-14
    on [0, 8]. Neither Hive nor Spark has a normal CDF. -#}
{% macro normal_two_sided_p(a) -%}
{%- set ns = namespace(d=1.0, terms=[]) -%}
{%- for k in range(100) -%}
{%- set ns.d = ns.d * (2 * k + 1) -%}
{%- set _ = ns.terms.append('power(' ~ a ~ ', ' ~ (2 * k + 1) ~ ') / CAST(\'' ~ ns.d ~ '\' AS DOUBLE)') -%}
{%- endfor -%}
greatest(CAST(0 AS DOUBLE), least(CAST(1 AS DOUBLE), 1 - 2 * exp(-{{ a }} * {{ a }} / 2) / sqrt(2 * pi()) * (
  {{ ns.terms | join('\n  + ') }})))
{%- endmacro %}

{#- The calibration bin of a probability: 10 equal-width bins, [k/10, (k+1)/10), 1.0 in bin 9. -#}
{% macro calibration_bin(p) -%}
least(CAST(floor({{ p }} * 10) AS INT), 9)
{%- endmacro %}

{#- The rows of `src` (a relation or subquery) once per split and once more with split 'all'. -#}
{% macro with_all_split(src, columns) -%}
SELECT {{ columns | join(', ') }}, split FROM {{ src }}
UNION ALL
SELECT {{ columns | join(', ') }}, 'all' AS split FROM {{ src }}
{%- endmacro %}

{#- McNemar's statistic with Edwards' continuity correction for b and c discordant pairs:
    max(|b - c| - 1, 0)^2 / (b + c); NULL when b + c is 0. -#}
{% macro mcnemar_chi2(b, c) -%}
{{ safe_div('greatest(abs((' ~ b ~ ') - (' ~ c ~ ')) - 1, 0) * greatest(abs((' ~ b ~ ') - (' ~ c ~ ')) - 1, 0)', '(' ~ b ~ ') + (' ~ c ~ ')') }}
{%- endmacro %}

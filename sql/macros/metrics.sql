{#-
  Binary classification metrics as one portable SELECT (Hive 3/4 and Spark SQL).

  binary_metrics(src, groups): `src` is a subquery (SQL text) with the columns named in `groups`
  plus y (0/1 truth), p (positive-class probability, DOUBLE) and decision_threshold (DOUBLE);
  one output row per group:

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

  A group with one class only gives NULL AUC (and NULL sensitivity without positives, NULL
  specificity without negatives), not an error; equal scores give AUC 0.5. Ratios with a zero
  denominator are NULL (Spark 4 runs with ANSI mode: x / 0 would fail). Group columns may be
  NULL (e.g. an unknown site): every window and GROUP BY keeps NULL as a group of its own.
-#}
{% macro binary_metrics(src, groups) -%}
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
  CASE WHEN auc_se IS NOT NULL THEN greatest(CAST(0 AS DOUBLE), auc - {{ z95() }} * auc_se) END AS auc_ci_lower,
  CASE WHEN auc_se IS NOT NULL THEN least(CAST(1 AS DOUBLE), auc + {{ z95() }} * auc_se) END AS auc_ci_upper,
  brier,
  ece
FROM (
  SELECT
    {{ g }},
    n, n_positive, n_negative, decision_threshold, tp, fp, tn, fn, brier, ece, auc,
    sqrt({{ safe_div('s10', 'n_positive') }} + {{ safe_div('s01', 'n_negative') }}) AS auc_se
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
      {{ safe_div('sum(CASE WHEN y = 0 THEN component_dev * component_dev END)', 'sum(1 - y) - 1') }} AS s01
    FROM (
      SELECT
        r.*,
        component - avg(component) OVER (PARTITION BY {{ g }}, y) AS component_dev
      FROM (
        SELECT
          w.*,
          -- the DeLong structural component of this score: V10 for a positive, V01 for a negative
          CASE WHEN y = 1 THEN {{ safe_div('neg_below + neg_tied / 2', 'group_neg') }}
               ELSE {{ safe_div('group_pos - pos_upto + pos_tied / 2', 'group_pos') }} END AS component
        FROM (
          SELECT
            s.*,
            CASE WHEN p >= decision_threshold THEN 1 ELSE 0 END AS yhat,
            rank() OVER (PARTITION BY {{ g }} ORDER BY p)
              + (count(*) OVER (PARTITION BY {{ g }}, p) - 1) / 2 AS avg_rank,
            sum(1 - y) OVER (PARTITION BY {{ g }} ORDER BY p
                             RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
              - sum(1 - y) OVER (PARTITION BY {{ g }}, p) AS neg_below,
            sum(1 - y) OVER (PARTITION BY {{ g }}, p) AS neg_tied,
            sum(y) OVER (PARTITION BY {{ g }} ORDER BY p
                         RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS pos_upto,
            sum(y) OVER (PARTITION BY {{ g }}, p) AS pos_tied,
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

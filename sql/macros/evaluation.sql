{#- The pieces eval_predictions and eval_unscored share: what ground truth is, which cohorts an
    image belongs to, which predictions count, each version's decision threshold. -#}

{#- One row per labelled image: the max label_value (0/1) over its label rows, optionally of
    var('label_source') only. -#}
{% macro eval_truth() -%}
    SELECT sop_instance_uid, max(label_value) AS label_value
    FROM {{ source('mi', 'labels') }}
    WHERE label_value IN (0, 1)
    {%- if var('label_source', '') %}
      AND source = {{ var('label_source') | sqlstring }}
    {%- endif %}
    GROUP BY sop_instance_uid
{%- endmacro %}

{#- (sop_instance_uid, cohort): 'all' (every labelled image) and 'adult_chest_xr'. -#}
{% macro eval_cohorts() -%}
  SELECT sop_instance_uid, 'all' AS cohort FROM ({{ eval_truth() }}
  ) t
  UNION ALL
  SELECT sop_instance_uid, 'adult_chest_xr' AS cohort FROM {{ ref('cohort_adult_chest_xr') }}
{%- endmacro %}

{#- A prediction row that scores its image: status 'ok' and a probability in [0, 1]. NaN fails
    both engines' `<=` (Spark orders NaN above every number, Hive compares as Java does), so a
    NaN, NULL or out-of-range probability counts as an error, never as a score. -#}
{% macro valid_prediction(alias='') -%}
{%- set a = (alias ~ '.') if alias else '' -%}
{{ a }}status = 'ok' AND {{ a }}probability IS NOT NULL
      AND {{ a }}probability >= CAST(0 AS DOUBLE) AND {{ a }}probability <= CAST(1 AS DOUBLE)
{%- endmacro %}

{#- (name, version, decision_threshold) from the registry. -#}
{% macro version_thresholds() -%}
  SELECT name, version, max(decision_threshold) AS decision_threshold
  FROM {{ source('mi', 'model_versions') }}
  GROUP BY name, version
{%- endmacro %}

{#- The decision threshold of version alias `v` (from version_thresholds()), or the default. -#}
{% macro threshold_or_default(v) -%}
coalesce({{ v }}.decision_threshold, CAST({{ var('default_threshold', 0.5) | number }} AS DOUBLE))
{%- endmacro %}

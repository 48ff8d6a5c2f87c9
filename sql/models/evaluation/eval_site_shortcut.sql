{#-
  Does the score know the site? One row per model_name, model_version, cohort, split (and 'all')
  and site (institution_key; NULL is a stratum of its own), from the scored images of
  eval_predictions:

    n, n_positive, n_negative, prevalence     the site's images and its class balance
    mean_score, mean_score_positive, mean_score_negative
    auc                 within the site (rank sum, ties averaged; NULL with one class only)
    site_auc            the score as a predictor of "this site" against the rest of the group:
                        (sum of the site's ranks - n_s (n_s + 1) / 2) / (n_s (N - n_s)), ranks over
                        the group, ties averaged; NULL when the group has this site only
    site_auc_positive, site_auc_negative
                        the same among the group's positives only and among its negatives only:
                        an honest model's score can follow the site through prevalence, but
                        among images of one class it has nothing of the site to go on (0.5);
                        far from 0.5 means the score carries the site itself

  A model that reads a site's marker instead of the lung has a high pooled AUC (eval_metrics),
  low within-site AUCs, and site_auc_positive far from 0.5 at the marker site; see
  eval_within_site_auc for the summary per group.
-#}
{{ config(materialized='table', tags=['evaluation']) }}
{%- set g = 'model_name, model_version, cohort, split' %}
SELECT
  model_name, model_version, cohort, split, institution_key,
  count(*) AS n,
  sum(y) AS n_positive,
  sum(1 - y) AS n_negative,
  {{ safe_div('sum(y)', 'count(*)') }} AS prevalence,
  avg(p) AS mean_score,
  avg(CASE WHEN y = 1 THEN p END) AS mean_score_positive,
  avg(CASE WHEN y = 0 THEN p END) AS mean_score_negative,
  {{ safe_div('sum(y * rank_site) - sum(y) * (sum(y) + 1) / 2', 'sum(y) * sum(1 - y)') }} AS auc,
  {{ safe_div('sum(rank_group) - count(*) * (count(*) + 1) / 2', 'count(*) * (max(group_n) - count(*))') }} AS site_auc,
  {{ safe_div('sum(y * rank_class) - sum(y) * (sum(y) + 1) / 2', 'sum(y) * (max(group_pos) - sum(y))') }} AS site_auc_positive,
  {{ safe_div('sum((1 - y) * rank_class) - sum(1 - y) * (sum(1 - y) + 1) / 2',
              'sum(1 - y) * (max(group_neg) - sum(1 - y))') }} AS site_auc_negative,
  max(group_n) AS group_n
FROM (
  SELECT
    e.*,
    rank() OVER (PARTITION BY {{ g }}, institution_key ORDER BY p)
      + (count(*) OVER (PARTITION BY {{ g }}, institution_key, p) - 1) / 2 AS rank_site,
    rank() OVER (PARTITION BY {{ g }} ORDER BY p)
      + (count(*) OVER (PARTITION BY {{ g }}, p) - 1) / 2 AS rank_group,
    rank() OVER (PARTITION BY {{ g }}, y ORDER BY p)
      + (count(*) OVER (PARTITION BY {{ g }}, y, p) - 1) / 2 AS rank_class,
    count(*) OVER (PARTITION BY {{ g }}) AS group_n,
    sum(y) OVER (PARTITION BY {{ g }}) AS group_pos,
    sum(1 - y) OVER (PARTITION BY {{ g }}) AS group_neg
  FROM (
{{ with_all_split(ref('eval_predictions'),
                  ['model_name', 'model_version', 'cohort', 'institution_key', 'label_value AS y', 'probability AS p']) }}
  ) e
) r
GROUP BY model_name, model_version, cohort, split, institution_key

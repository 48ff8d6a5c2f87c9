{#-
  Pooled against within-site discrimination, one row per model_name, model_version, cohort and
  split (and 'all'): a model can rank a pooled set well by telling sites of different prevalence
  apart (a burned-in label, a scanner's look) while ranking badly inside every site.

    pooled_auc                    eval_metrics.auc: every image of the group together
    n_sites, n_sites_with_auc     site strata (institution_key, NULL one of its own), and those
                                  with both classes
    within_site_auc_mean          the unweighted mean of the sites' AUCs (eval_site_shortcut.auc)
    within_site_auc_pairs         the AUC over positive-negative pairs from the same site only:
                                  sum auc_s n1_s n0_s / sum n1_s n0_s (a stratified AUC)
    within_site_auc_min, within_site_auc_max
    auc_gap                       pooled_auc - within_site_auc_mean (large: the pooled figure
                                  owes much to the sites)
    max_site_auc, max_site_auc_positive, max_site_auc_negative
                                  the largest site-vs-rest AUC of the score over the sites, among
                                  all images, positives and negatives (eval_site_shortcut)
    prevalence_score_corr         Pearson correlation across sites of prevalence and mean score,
                                  from deviations about the means (NULL below two sites or when
                                  either is constant)

  The within-site figures are NULL when no site has both classes.
-#}
{{ config(materialized='table', tags=['evaluation']) }}
SELECT
  s.model_name, s.model_version, s.cohort, s.split,
  s.n, s.n_sites, s.n_sites_with_auc,
  m.auc AS pooled_auc,
  s.within_site_auc_mean,
  s.within_site_auc_pairs,
  s.within_site_auc_min,
  s.within_site_auc_max,
  m.auc - s.within_site_auc_mean AS auc_gap,
  s.max_site_auc, s.max_site_auc_positive, s.max_site_auc_negative,
  CASE WHEN s.n_sites > 1 THEN {{ safe_div('s.sxy', 'sqrt(s.sxx) * sqrt(s.syy)') }} END AS prevalence_score_corr
FROM (
  SELECT
    model_name, model_version, cohort, split,
    sum(n) AS n,
    count(*) AS n_sites,
    sum(CASE WHEN auc IS NOT NULL THEN 1 ELSE 0 END) AS n_sites_with_auc,
    avg(auc) AS within_site_auc_mean,
    {{ safe_div('sum(CASE WHEN auc IS NOT NULL THEN auc * n_positive * n_negative END)',
                'sum(CASE WHEN auc IS NOT NULL THEN n_positive * n_negative END)') }} AS within_site_auc_pairs,
    min(auc) AS within_site_auc_min,
    max(auc) AS within_site_auc_max,
    max(site_auc) AS max_site_auc,
    max(site_auc_positive) AS max_site_auc_positive,
    max(site_auc_negative) AS max_site_auc_negative,
    sum(dx * dx) AS sxx, sum(dy * dy) AS syy, sum(dx * dy) AS sxy
  FROM (
    SELECT x.*,
           prevalence - avg(prevalence) OVER (PARTITION BY model_name, model_version, cohort, split) AS dx,
           mean_score - avg(mean_score) OVER (PARTITION BY model_name, model_version, cohort, split) AS dy
    FROM {{ ref('eval_site_shortcut') }} x
  ) d
  GROUP BY model_name, model_version, cohort, split
) s
LEFT JOIN {{ ref('eval_metrics') }} m
  ON m.model_name = s.model_name AND m.model_version = s.model_version AND m.cohort = s.cohort
 AND m.split = s.split

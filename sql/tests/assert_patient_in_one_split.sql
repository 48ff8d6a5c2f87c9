-- No patient is evaluated in two splits (patient-level split, no leakage between splits).
SELECT patient_key, count(DISTINCT split) AS n_splits
FROM {{ ref('eval_predictions') }}
GROUP BY patient_key
HAVING count(DISTINCT split) > 1

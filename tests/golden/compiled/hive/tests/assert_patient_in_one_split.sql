-- test assert_patient_in_one_split (singular, from tests/assert_patient_in_one_split.sql): passes when this returns no rows
SELECT patient_key, count(DISTINCT split) AS n_splits
FROM `mi`.`eval_predictions`
GROUP BY patient_key
HAVING count(DISTINCT split) > 1;

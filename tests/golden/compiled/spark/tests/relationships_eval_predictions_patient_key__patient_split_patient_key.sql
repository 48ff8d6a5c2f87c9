-- test relationships_eval_predictions_patient_key__patient_split_patient_key (relationships, from models/evaluation/schema.yml): passes when this returns no rows
SELECT mi_child.`patient_key`
FROM `mi`.`eval_predictions` mi_child
LEFT JOIN `mi`.`patient_split` mi_parent ON mi_child.`patient_key` = mi_parent.`patient_key`
WHERE mi_child.`patient_key` IS NOT NULL AND mi_parent.`patient_key` IS NULL;

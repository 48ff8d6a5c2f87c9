-- Files without PatientID (secondary captures, SR) can be loaded under a surrogate patient key
-- derived from their StudyInstanceUID ([loader] missing_patient_id = "surrogate"); this column says
-- which rows carry one, so that splits can exclude or keep them. Rows written before read NULL
-- (they all had a PatientID).

ALTER TABLE {{ db }}.dicom_metadata ADD COLUMNS (
  `patient_key_source` STRING COMMENT 'what patient_key is keyed by: patient_id, or study (a surrogate)'
);

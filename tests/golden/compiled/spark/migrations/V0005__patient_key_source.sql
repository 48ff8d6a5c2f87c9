-- V0005__patient_key_source.sql for spark
-- statement 1, line 6
ALTER TABLE mi.dicom_metadata ADD COLUMNS (
  `patient_key_source` STRING COMMENT 'what patient_key is keyed by: patient_id, or study (a surrogate)'
);

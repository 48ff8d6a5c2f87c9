-- V0002__restrict_phi_database.sql for hive
-- statement 1, line 6
SET ROLE ADMIN;
-- statement 2, line 7
CREATE ROLE mi_phi_reader;
-- statement 3, line 8
GRANT SELECT ON TABLE mi_phi.patient_map TO ROLE mi_phi_reader;

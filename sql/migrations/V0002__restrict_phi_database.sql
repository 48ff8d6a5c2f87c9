-- Access control for the re-identification database. Only Apache Hive with SQL-standard
-- authorization enforces GRANT/REVOKE; on Spark Thrift Server (no authorization layer) this script
-- renders to no statements and is recorded as applied, so the history stays the same everywhere.
-- On a Kerberised cluster, also restrict the HDFS directory of {{ phi_db }} (see README).
{% if target.engine == 'hive' %}
SET ROLE ADMIN;
CREATE ROLE {{ phi_db }}_reader;
GRANT SELECT ON TABLE {{ phi_db }}.patient_map TO ROLE {{ phi_db }}_reader;
{% endif %}

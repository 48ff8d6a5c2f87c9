-- engine-specific statements for spark

-- probe: the SELECT's columns
DESCRIBE QUERY SELECT sop_instance_uid, study_year FROM `mi`.`dicom_metadata`;

-- incremental insert_overwrite into an existing partitioned table
SET spark.sql.sources.partitionOverwriteMode=dynamic;
SET hive.exec.dynamic.partition=true;
SET hive.exec.dynamic.partition.mode=nonstrict;
INSERT OVERWRITE TABLE `mi`.`example` PARTITION (`study_year`)
SELECT sop_instance_uid, study_year FROM `mi`.`dicom_metadata`;

-- after the loader writes files beside the engine
REFRESH TABLE `mi`.`dicom_metadata`;

-- infer --print-sql preamble
-- Ship the model and its card to the worker nodes (they land in the task's working directory).
ADD FILE hdfs://namenode:8020/models/m/1/model.onnx;
ADD FILE hdfs://namenode:8020/models/m/1/card.yaml;
-- The nodes need Python with mi-warehouse installed (a shared environment), or ship one:
--   ADD ARCHIVE hdfs:///apps/mi-warehouse/mi-env.tar.gz;  and USING 'mi-env.tar.gz/bin/python -m ...'
-- Route the TRANSFORM to GPU nodes:
--   Hive on Tez/YARN: a queue whose capacity is on the 'gpu' node label
--     (yarn.scheduler.capacity.root.gpu.accessible-node-labels=gpu, default-node-label-expression=gpu)
-- Spark: start the Thrift Server with GPU executors (spark.executor.resource.gpu.amount=1 and a discovery script) or a GPU resource profile;
-- SQL cannot request GPUs per query.
SET hive.exec.dynamic.partition.mode=nonstrict;

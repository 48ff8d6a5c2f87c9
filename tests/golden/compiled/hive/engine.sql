-- engine-specific statements for hive

-- probe: the SELECT's columns
DROP VIEW IF EXISTS `mi`.`example__mi_probe`;
CREATE VIEW `mi`.`example__mi_probe` AS
SELECT sop_instance_uid, study_year FROM `mi`.`dicom_metadata`;
DESCRIBE `mi`.`example__mi_probe`;
DROP VIEW IF EXISTS `mi`.`example__mi_probe`;

-- incremental insert_overwrite into an existing partitioned table
SET hive.exec.dynamic.partition=true;
SET hive.exec.dynamic.partition.mode=nonstrict;
INSERT OVERWRITE TABLE `mi`.`example` PARTITION (`study_year`)
SELECT sop_instance_uid, study_year FROM `mi`.`dicom_metadata`;

-- after the loader writes files beside the engine
-- (nothing: the engine lists files on each query)

-- infer --print-sql preamble
-- Ship the model and its card to the worker nodes (they land in the task's working directory).
ADD FILE hdfs://namenode:8020/models/m/1/model.onnx;
ADD FILE hdfs://namenode:8020/models/m/1/card.yaml;
-- The nodes need Python with mi-warehouse installed (a shared environment), or ship one:
--   ADD ARCHIVE hdfs:///apps/mi-warehouse/mi-env.tar.gz;  and USING 'mi-env.tar.gz/bin/python -m ...'
-- Route the TRANSFORM to GPU nodes:
--   Hive on Tez/YARN: a queue whose capacity is on the 'gpu' node label
--     (yarn.scheduler.capacity.root.gpu.accessible-node-labels=gpu, default-node-label-expression=gpu)
SET tez.queue.name=gpu;
SET mapreduce.job.queuename=gpu;
SET hive.exec.dynamic.partition.mode=nonstrict;

"""`mi-warehouse infer` and `mi-warehouse lineage`: the client side of ONNX inference in Hive."""

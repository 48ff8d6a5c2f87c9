"""DICOM header loaders (pydicom -> de-identified, partitioned, bucketed Parquet)."""

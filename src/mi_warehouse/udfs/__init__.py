"""Scripts that Hive runs on worker nodes (SELECT TRANSFORM ... USING). Never imports the connection layer."""

"""`mi-warehouse apply`: versioned HiveQL migrations with an append-only history table."""

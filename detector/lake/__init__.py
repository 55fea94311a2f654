"""The Parquet lake: canonical request schema, atomic partition writes, DuckDB views."""

"""Reading the tables back: Trino over the Delta tables, the daily batch report (polars or Spark) and
the run summary."""

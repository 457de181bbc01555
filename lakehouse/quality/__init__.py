"""Data quality: the gates that validate a table version and record the verdict (gates.py), and the
expectation suites, one per table (suites.py)."""

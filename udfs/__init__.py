"""Python UDFs: plain, typed functions plus thin PyFlink wrappers (unit-test the plain ones)."""

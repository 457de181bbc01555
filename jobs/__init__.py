"""PyFlink Table API jobs: one file per job, logic in transform(), wiring in main()."""

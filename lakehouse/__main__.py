from lakehouse.cli import main

raise SystemExit(main())

from cohortpress.cli import main

raise SystemExit(main())

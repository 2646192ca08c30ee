from ampyre.cli import main

raise SystemExit(main())

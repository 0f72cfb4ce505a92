from beeldbel.cli import main

raise SystemExit(main())

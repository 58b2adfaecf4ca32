"""`python -m chatvim_ls`: the same as the `chatvim-ls` command."""

from .cli import main

raise SystemExit(main())

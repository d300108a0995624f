"""`python -m cli ...` runs `chainbreaker ...` (for a checkout without the console script)."""

import sys

from cli.main import main

sys.exit(main())

"""`python -m careplan_link` runs the `careplan-link` command."""

import sys

from .cli import main

sys.exit(main())

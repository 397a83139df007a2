"""`python -m modelyard` is the `modelyard` command."""

import sys

from modelyard.cli import main

sys.exit(main())

"""`python -m melodyrnn ...`: the same as the `melodyrnn` command."""

import sys

from melodyrnn.cli import main

sys.exit(main())

"""`python -m mce` runs the mce command."""

import sys

from mce.cli import main

sys.exit(main())

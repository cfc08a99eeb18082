"""``python -m rdstats`` runs the ``rdstats`` command."""

import sys

from rdstats.cli import main

sys.exit(main())

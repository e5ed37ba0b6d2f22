"""``python -m simulator`` runs the ``chestsim`` command line."""

import sys

from simulator.cli import main

sys.exit(main())

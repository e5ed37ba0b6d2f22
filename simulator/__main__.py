"""``python -m simulator`` runs the ``chestsim`` command line."""

import sys

from simulator._entry import main

sys.exit(main())

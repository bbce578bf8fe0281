"""``python -m contaffect``: the command line (also what ``torchrun -m contaffect`` runs)."""

import sys

from contaffect.cli import main

sys.exit(main())

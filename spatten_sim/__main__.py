"""``python -m spatten_sim``: the same as the ``spatten-sim`` command."""

import sys

from spatten_sim.cli import console

sys.exit(console())

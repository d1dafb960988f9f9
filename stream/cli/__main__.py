"""``python -m stream.cli``: the same as the ``sunlight`` command."""

import sys

from stream.cli import main

sys.exit(main())

"""``python -m swsearch`` = the ``swsearch`` command."""

import sys

from .cli import main

sys.exit(main())

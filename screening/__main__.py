"""`python -m screening check|batch|views ...`: the screening CLI (see screening/core/cli.py)."""

import sys

from screening.core.cli import main

if __name__ == "__main__":
    sys.exit(main())

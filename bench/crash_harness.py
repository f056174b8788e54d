"""Crash harness: the real ``relais run`` killed with SIGKILL while it publishes, then counted.

The harness itself lives in ``tests/harness/`` (the test suite runs a short version of it);
this is its command line, for the long runs:

    .venv/bin/python bench/crash_harness.py --posts 500 --kills 200 --seed 1
    .venv/bin/python bench/crash_harness.py --posts 2000 --kills 20 --daemons 4 --cap 500 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/postgres

``--help`` lists the options; ``tests/harness/run.py`` says what it prints.
"""

from __future__ import annotations

import sys

from tests.harness.run import main

if __name__ == "__main__":
    sys.exit(main())

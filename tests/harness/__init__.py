"""The crash harness: real ``relais run`` processes killed with SIGKILL while they publish to a
fake WordPress blog in a process of its own, then counted (see ``run.py``).

``tests/process/test_crash_harness.py`` runs a short version; ``bench/crash_harness.py``
is the long run's command line.
"""

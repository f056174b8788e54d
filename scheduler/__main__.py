"""``python -m scheduler`` is ``relais``."""

from scheduler.cli import main

main()

"""relais: the core (configuration, post files, queue, intake, dispatch, daemon, CLI)."""

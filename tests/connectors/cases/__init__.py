"""One module per platform, each defining ``CASE: PlatformCase``."""

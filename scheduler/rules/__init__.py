"""The house rules: per-account caps, gaps and posting hours, the slot finder, placement,
the daily cap, series and link tagging."""

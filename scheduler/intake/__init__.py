"""Intake: the inbox scan, safe YAML, the post file's schema and checker, times, media,
and turning a post file into queue rows."""

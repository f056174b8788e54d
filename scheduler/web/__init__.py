"""The editorial desk: ``relais web``, a web calendar, approval queue and post form.

Its own process beside the daemon, on the same queue. Every decision goes through the
same functions as the CLI (scheduler.delivery.editor), every post through the inbox
(the form writes a post file), every word through the catalogues (scheduler.i18n).
"""

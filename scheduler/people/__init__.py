"""The network's people, kept in one place (the ``person`` table): who logs in to the desk,
with which role and for which libraries, and how each one is told (e-mail, a chat URL).

config.yaml names no person; ``relais users`` and the desk's admin pages manage them.
"""

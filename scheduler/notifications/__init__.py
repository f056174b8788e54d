"""People are told: an outbox of notifications, sent by the daemon through Apprise.

``events`` writes a ``notification`` row in the transaction of the change that causes it;
``sender`` expands it into one ``notification_send`` per person and channel (routes of
config.yaml, people of ``scheduler.people``) and sends each with the claim discipline of
deliveries; ``messages`` words them in each person's language; ``channels`` hands them to
Apprise. The guarantee after a crash is stated in ``sender``.
"""

"""Delivery: the state machine, state changes, the dispatcher with its leases and
reconciliation, retries, what a connector receives, and what a person decides."""

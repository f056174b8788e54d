"""One module per platform behind the interface of :mod:`connectors.base`."""

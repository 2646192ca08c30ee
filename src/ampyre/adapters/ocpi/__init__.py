"""OCPI adapters: the outgoing HTTP client (client.py)."""

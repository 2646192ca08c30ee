"""OCPP 2.1: reuses the 2.0.1 modules where the messages are the same (checked against
the 2.1 schemas) and has its own handler table and command codec."""

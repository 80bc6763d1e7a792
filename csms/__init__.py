"""OCPP 1.6J and 2.0.1 central system."""

__version__ = "0.1.0"

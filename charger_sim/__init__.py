"""A charger simulator for OCPP 1.6J and 2.0.1 (grows in its own issue)."""

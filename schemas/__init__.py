"""Avro contracts (payment_event, alert) and their codec."""

"""Wiring: Kafka topics, the Faust worker, the case router, the local stack and the CLI."""

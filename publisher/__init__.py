"""Payment events into Kafka: the producer (producer.py), files checked line by line before
they are sent (files.py), pacing to a rate (pacing.py) and `chainbreaker publish` (cli.py)."""

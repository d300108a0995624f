"""The local stack: Kafka, Redis and (optionally) Prometheus on 127.0.0.1, without Docker.

services.py is `up`/`down`/`status` over kafka.py, redis.py and prometheus.py (one module per
service: its configuration, start, recognition and readiness); process.py holds the process,
pid, port and readiness helpers they share, packages.py the apt-get installs (redis-server,
prometheus, Java, Maven), paths.py the layout of CB_STACK_DIR, cli.py `chainbreaker stack`.
"""

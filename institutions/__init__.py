"""The institutions' side of the case queues: what a bank's or an MSB's analysts use.

client.py is the API (CaseClient: read, claim, look up, dispose), used by every front end;
cli.py is `chainbreaker cases`; views.py renders cases for a terminal; acl.py is the
operator's side (one Redis ACL user per institution); credentials.py is the file an
institution is handed; dispositions.py builds and sends an analyst's outcome to Kafka.
"""

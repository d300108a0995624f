"""The stream processing: the Faust worker and its topology on Kafka, and nothing else.

worker.py builds the Faust app (agents, tables, topics) around pipeline.py, which turns one
message into state, alerts or a dead letter with processors/; router.py moves alerts to the
institutions' Redis Streams; intel_feed.py and rules_feed.py keep the shared intelligence and
the rule set in every worker (both follow a compacted topic, compacted.py); topics.py creates
the topics; metrics.py is every Prometheus series.
"""

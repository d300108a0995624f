"""Detection logic: plain Python, no Faust or Kafka imports.

The streaming worker (streams/) and offline backtests run exactly this code, so a change in
a threshold or an indicator is tested once and behaves the same everywhere.
"""

"""Configuration every package shares: the CB_* settings (settings.py) and the names the
packages agree on (names.py: Redis key layouts, consumer groups, headers, the partitioner).

Both sides of every boundary (worker and router, router and institutions) import these from
here rather than from each other, so no package needs another to know a key's layout.
"""

"""Who may do what: Kafka principals and topic ACLs, Redis users, and their credentials files.

The operator's side of config/clients.py: `chainbreaker stack up` (local stack) and
`chainbreaker access grant` (any deployment) create one principal per role, give it only the
rights its job needs, and write its credentials, 0600, where the clients look for them.
"""

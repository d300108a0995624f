"""The traffic simulator: seeded payment traffic with labelled trafficking scenarios.

simulation.py builds a run (build, generate) from: the world's places and clocks
(geography.py, clock.py, data/*.json), its institutions and merchants (parties.py), the
population and its daily routines (population.py), the trafficking scenarios per typology
(scenarios/), the look-alikes that must stay quiet (lookalikes.py), and the watchlists the
scenarios use (watchlists.py). Each kind of account is declared as data (kinds.py). output.py
writes a run to disk; cli.py is `chainbreaker simulate`.
"""

"""The offline backtest: the detectors over a file of events, scored against its truth.

reading.py reads events (JSON lines, Avro) and truth, amlsim.py adapts IBM AMLSim output,
scoring.py scores a run (the run itself is processors.replay.run, the same engine the worker
drives), report.py writes report.md/report.png and the summary, cli.py is `chainbreaker
backtest`.
"""

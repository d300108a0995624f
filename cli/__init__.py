"""`chainbreaker`: the one command line (main.py dispatches to each package's command) and
`chainbreaker demo` (demo.py), which drives every package at once: the stack, the worker, the
simulator and the publisher, and reads the case queues as an institution would."""

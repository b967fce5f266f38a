"""Running programs side by side in one terminal (billing.serve: phx.server and stripe listen).

- manager.py: Program, Supervisor: start, relay, stop everything on the first exit or a signal.
- printer.py: the ``name | line`` output, coloured on a terminal, secrets masked.
- proctable.py: the process table (psutil), the tree below a process, the child subreaper.
"""

"""Running programs, and making sure none outlives `inv`.

- foreground.py: one program on our terminal (a mix step, the server); a signal to us
  meanwhile makes the step Interrupted, whatever its exit code.
- manager.py: Program, Supervisor: several programs side by side (billing.serve: phx.server
  and stripe listen), relayed, all stopped on the first exit or a signal.
- lifeline.py: what we start dies with us, kill -9 included (parent-death signal, the
  run's token); watchdog.py is the process that stops the leftovers.
- printer.py: the ``name | line`` output, coloured on a terminal, secrets masked.
- proctable.py: the process table (psutil), the tree below a process, the child subreaper.
"""

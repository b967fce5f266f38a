"""The suite: task modules, one per namespace (tasks/*.py), and their library (tasks/lib/); `inv` enters through ../tasks.py."""

"""Many specs at once: collecting files, budgets and their files, the gate of ``check``, and ``diff``."""

"""``python -m batchkit``: the command line (``batchkit``)."""

from batchkit.cli import entry_point

entry_point()

from batchkit.cli import entry_point

entry_point()

"""The I/O-free core shared by :class:`batchkit.Client` and :class:`batchkit.AsyncClient`."""

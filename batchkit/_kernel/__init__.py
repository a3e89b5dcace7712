"""The kernel: steps, retry policy, wire helpers, inputs, options, downloads and the journal.

Everything here is below the providers: it knows no provider and no client.
"""

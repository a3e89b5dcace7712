"""``batchkit callbacks``: serve the callback receiver (:mod:`batchkit.callbacks`) into a journal."""

from __future__ import annotations

import click

from batchkit._kernel.journal import without_password

from . import EXIT_OK
from .commands import cli


@cli.command()
@click.option("--journal", "journal", required=True, help="the journal (sqlite path or postgresql:// URL)")
@click.option("--listen", default="127.0.0.1:8766", show_default=True, help="HOST:PORT to listen on")
def callbacks(journal: str, listen: str) -> int:
    """Receive providers' callback POSTs (Hive, Resemble, Hume) into JOURNAL: a callback is kept only
    when its job id and nonce are a journaled run's; give providers <this address>/<provider> as the
    callback_url (needs batchkit[emulator]'s uvicorn)."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise click.UsageError(f"--listen must be HOST:PORT, got {listen!r}")
    try:
        import uvicorn
    except ImportError:
        raise click.UsageError("serving callbacks needs `pip install 'batchkit[emulator]'` (uvicorn)") from None
    from batchkit.callbacks import CallbackReceiver

    click.echo(f"batchkit callbacks into {without_password(journal)} at http://{listen}/<provider> (Ctrl-C stops)")
    uvicorn.run(CallbackReceiver(journal), host=host.strip("[]"), port=int(port), log_level="warning")
    return EXIT_OK

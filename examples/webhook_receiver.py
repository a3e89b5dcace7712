"""Receive provider callbacks with only the standard library, and confirm each by re-fetching.

    python examples/webhook_receiver.py --port 8080      # then submit with callback_url=http://host:8080/hume

The path names the provider (``/hume`` or ``/resemble``). Callbacks are unsigned, so the job is
fetched again before it is trusted.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import batchkit
import batchkit.webhooks

MAX_BODY = 64 * 1024 * 1024


def make_handler(confirm: bool) -> type[BaseHTTPRequestHandler]:
    explained: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            provider = self.path.strip("/").split("/")[0]
            length = self.headers.get("content-length", "")
            if not length.isdigit() or int(length) > MAX_BODY:
                self.send_error(411 if not length.isdigit() else 413, "a callback needs a Content-Length up to 64 MB")
                return
            body = self.rfile.read(int(length))
            try:
                callback = batchkit.webhooks.parse(provider, body)
            except batchkit.BatchkitError as exc:
                self.send_error(400, "callback refused", str(exc)[:200])  # the status line takes Latin-1 only
                return
            job, confirmed = callback.job, False
            if confirm:
                try:
                    with batchkit.connect(provider) as client:
                        job, confirmed = client.get(job.id), True
                except batchkit.BatchkitError as exc:  # no key here, say: explain once, keep serving
                    if provider not in explained:
                        explained.add(provider)
                        print(f"cannot confirm {provider} callbacks ({exc}); reporting them unconfirmed", flush=True)
            line = {"provider": provider, "job": job.id, "status": job.status.name, "confirmed": confirmed}
            print(json.dumps(line), flush=True)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--no-confirm", action="store_true", help="trust the body instead of re-fetching the job")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(not args.no_confirm))
    print(f"listening on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

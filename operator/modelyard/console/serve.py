"""Serving the console: waitress, a pure-Python WSGI server with no access log (so no request
header, token or user name is ever written by it), a few threads for the blocking reads."""

from __future__ import annotations

import sys
from typing import Any, TextIO

THREADS = 4


def serve(app: Any, host: str, port: int, out: TextIO = sys.stdout) -> int:
    """Serve until interrupted; port 0 picks a free port. The first line printed is the URL."""
    from waitress import create_server

    try:
        server = create_server(app, host=host, port=port, threads=THREADS, ident="modelyard-console",
                               clear_untrusted_proxy_headers=True)
    except OSError as error:  # the port is taken, or the address is not this machine's
        print(f"error: cannot listen on {host}:{port}: {error.strerror or error}", file=sys.stderr)
        return 1
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    print(f"console: http://{shown}:{server.effective_port}/", file=out, flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0

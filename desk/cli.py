"""`chainbreaker desk`: serve the analysts' desk on CB_DESK_BIND:CB_DESK_PORT (127.0.0.1:18080).

Runs in the foreground (uvicorn, one process: sessions live in its memory). `make demo`
starts one in the background (stack/desk.py) and `chainbreaker stack down` stops it.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

from config.settings import load


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="chainbreaker desk",
        description="Serve the analysts' web desk (sign in with the institution's credentials).",
    )
    parser.add_argument("--port", type=int, help="default CB_DESK_PORT (18080)")
    parser.add_argument("--bind", help="default CB_DESK_BIND (127.0.0.1)")
    args = parser.parse_args(argv)
    settings = load()
    port = args.port or settings.desk_port
    bind = args.bind or settings.desk_bind
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not ipaddress.ip_address(bind).is_loopback:
        logging.getLogger("desk").warning(
            "listening on %s, beyond this machine: put a TLS proxy in front (the desk speaks "
            "plain HTTP; its cookies get the Secure flag only over HTTPS)",
            bind,
        )
    import uvicorn

    from desk.app import create_app

    print(f"desk: http://{bind}:{port}/ (Ctrl-C stops it)", flush=True)
    uvicorn.run(
        create_app(settings),
        host=bind,
        port=port,
        log_level=settings.log_level.lower(),
        server_header=False,
        # A TLS proxy on this machine (uvicorn trusts 127.0.0.1 only) tells the desk the
        # client's address (for the sign-in throttle) and that it was HTTPS (Secure cookies).
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

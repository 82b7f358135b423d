"""pyftpdlib server for the fxpmirror test lab (started by test/lab/lab.ts).

Run with Debian's /usr/bin/python3 (the python3 first on PATH may be a build
without python3-pyftpdlib / python3-openssl), as the lab user, so that files
it writes belong to that user like with the other three servers.

pyftpdlib is a library; this is the smallest standalone server that mirrors
the other lab servers: one user, a fixed root, a passive port range, a
per-address connection cap, optional explicit TLS, an optional throttle, and
a size-capped log.
"""

import argparse
import logging
import logging.handlers

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--address", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--passive-min", type=int, required=True)
    ap.add_argument("--passive-max", type=int, required=True)
    ap.add_argument("--foreign", choices=["yes", "no"], required=True)
    ap.add_argument("--max-per-ip", type=int, default=0)
    ap.add_argument("--rate", type=int, help="bytes/s per data transfer, each direction")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--log", required=True)
    ap.add_argument("--log-max-bytes", type=int, default=16 * 1024 * 1024)
    args = ap.parse_args()

    # A rotating handler caps the log: after an aborted transfer pyftpdlib has
    # been seen looping on an exception and writing gigabytes of log.
    # Configuring the 'pyftpdlib' logger ourselves also stops serve_forever()
    # from adding its own stderr handler. DEBUG logs every command and reply.
    log = logging.getLogger("pyftpdlib")
    handler = logging.handlers.RotatingFileHandler(
        args.log, maxBytes=args.log_max_bytes, backupCount=1
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)

    authorizer = DummyAuthorizer()
    # e l r a d f m w M T: cwd, list, retr, appe, dele, rnfr/rnto, mkd, stor,
    # site chmod, mfmt -- everything the mirror needs.
    authorizer.add_user(args.user, args.password, args.root, perm="elradfmwMT")

    if args.cert:
        from pyftpdlib.handlers import TLS_FTPHandler

        class Handler(TLS_FTPHandler):
            pass

        Handler.certfile = args.cert
        Handler.keyfile = args.key
        # Explicit TLS offered, never required (like the other lab servers).
        Handler.tls_control_required = False
        Handler.tls_data_required = False
    else:

        class Handler(FTPHandler):
            pass

    if args.rate:
        # ThrottledDTPHandler sleeps whenever a transfer gets ahead of
        # read_limit/write_limit (bytes/s); under TLS it must also be a
        # TLS_DTPHandler, so the two are combined.
        from pyftpdlib.handlers import ThrottledDTPHandler

        if args.cert:
            from pyftpdlib.handlers import TLS_DTPHandler

            class DTP(ThrottledDTPHandler, TLS_DTPHandler):
                pass

        else:

            class DTP(ThrottledDTPHandler):
                pass

        DTP.read_limit = args.rate
        DTP.write_limit = args.rate
        Handler.dtp_handler = DTP

    Handler.authorizer = authorizer
    # Default False: "425 Rejected data connection from foreign address" for a
    # passive connection from another host, "501 Rejected data connection to
    # foreign address" for PORT. True is what FXP needs.
    Handler.permit_foreign_addresses = args.foreign == "yes"
    Handler.passive_ports = range(args.passive_min, args.passive_max + 1)

    server = FTPServer((args.address, args.port), Handler)
    server.max_cons_per_ip = args.max_per_ip  # 0 = unlimited
    server.max_cons = 256

    # SIGTERM keeps its default action (the lab kills the process group).
    server.serve_forever()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A real SMTP server for telbot-alerts' tests: aiosmtpd on 127.0.0.1, every received message
appended as one JSON line to OUT/messages.jsonl. Optional STARTTLS with a given cert and key.

    python3 smtp_sink.py --port N --out DIR [--starttls CERT KEY]

Prints READY when it accepts connections; stops on SIGTERM/SIGINT.
"""
import argparse
import json
import os
import signal
import ssl
import sys
import threading

try:
    from aiosmtpd.controller import Controller
except ImportError:
    print("aiosmtpd is not installed: run `pip install aiosmtpd`", file=sys.stderr)
    sys.exit(3)


class Sink:
    def __init__(self, out):
        self.path = os.path.join(out, "messages.jsonl")
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": envelope.content.decode("utf-8", errors="replace"),
            "tls": session.ssl is not None,
        }
        with self.lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return "250 OK"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    kwargs = {}
    if a.starttls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.starttls[0], a.starttls[1])
        kwargs = {"tls_context": ctx, "require_starttls": True}
    c = Controller(Sink(a.out), hostname="127.0.0.1", port=a.port, server_hostname="localhost", **kwargs)
    c.start()
    print("READY", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    c.stop()


if __name__ == "__main__":
    main()

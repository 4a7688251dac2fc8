#!/usr/bin/env python3
"""Which B-trees each SQLite commit of the inbox writes, read from the WAL itself.

Starts the fake Bot API and a fresh bot-server on SQLite, posts N /start updates with
post_updates.py (8 keep-alive connections), stops bot-server (SIGSTOP) to copy the database
and its WAL as they are, and lets it go. Then it walks the copied WAL's frames since the last
checkpoint (each frame is one page; a frame with a commit size ends a commit) and names each
page's B-tree with SQLite's dbstat. Prints frames per commit and, per table or index, the
pages it adds to a commit: each is two pwrite(2) calls and a page for the flush to write.

Usage: wal_pages.py BOT_SERVER FAKEAPI [N]   (N defaults to 600)
"""
import collections
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

from fixed_rate_profile import stop_all, wait_up  # this directory's, the same start and stop

HERE = os.path.dirname(os.path.abspath(__file__))
FPORT, PORT, SECRET = 18391, 18392, "walpages-secret"


def commits(wal_path):
    """The page numbers of each commit in the WAL's valid frames, oldest first."""
    with open(wal_path, "rb") as f:
        w = f.read()
    _, _, page, _, salt1, salt2, _, _ = struct.unpack(">IIIIIIII", w[:32])
    out, cur, off = [], [], 32
    while off + 24 + page <= len(w):
        pgno, size, s1, s2 = struct.unpack(">IIII", w[off:off + 16])
        if (s1, s2) != (salt1, salt2):
            break
        cur.append(pgno)
        if size:
            out.append(cur)
            cur = []
        off += 24 + page
    return out


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    bot_bin, fake_bin = sys.argv[1], sys.argv[2]
    n = sys.argv[3] if len(sys.argv) > 3 else "600"
    tmp = tempfile.mkdtemp(prefix="telbot-wal-")
    fake = subprocess.Popen([fake_bin], env={**os.environ, "FAKEAPI_PORT": str(FPORT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"PATH": os.environ["PATH"], "RUST_LOG": "warn", "PORT": str(PORT),
           "TELEGRAM_API_URL": f"http://127.0.0.1:{FPORT}", "TELEGRAM_BOT_TOKEN": "123:walpages",
           "WEBHOOK_SECRET": SECRET, "PUBLIC_URL": f"http://127.0.0.1:{PORT}",
           "BOT_MODE": "webhook", "DATABASE_URL": f"sqlite://{tmp}/bench.db", "DATA_DIR": tmp,
           "ADMIN_TOKEN": "walpages-admin-token-0123456789",
           "TELBOT__TELEGRAM__RATE_LIMIT": "false"}
    bot = subprocess.Popen([bot_bin], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        wait_up(f"http://127.0.0.1:{FPORT}/stats")
        wait_up(f"http://127.0.0.1:{PORT}/health")
        subprocess.run([sys.executable, os.path.join(HERE, "post_updates.py"), str(PORT), n,
                        SECRET, f"http://127.0.0.1:{FPORT}/stats"], check=True)
        time.sleep(1)
        bot.send_signal(signal.SIGSTOP)
        shutil.copy(f"{tmp}/bench.db", f"{tmp}/copy.db")
        shutil.copy(f"{tmp}/bench.db-wal", f"{tmp}/copy.db-wal")
        bot.send_signal(signal.SIGCONT)
        found = commits(f"{tmp}/copy.db-wal")
        if not found:
            raise SystemExit("no commit in the WAL since its last checkpoint")
        con = sqlite3.connect(f"{tmp}/copy.db")
        names = {p: name for name, p in con.execute("SELECT name, pageno FROM dbstat")}
        con.close()
        per = collections.Counter(names.get(p, f"page {p}") for c in found for p in c)
        print(f"{len(found)} commits since the last checkpoint, "
              f"{sum(map(len, found)) / len(found):.2f} frames (pages) per commit")
        for name, k in per.most_common():
            print(f"  {k / len(found):5.2f} per commit  {name}")
    finally:
        stop_all(bot, fake, tmp)


if __name__ == "__main__":
    main()

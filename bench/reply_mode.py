#!/usr/bin/env python3
"""Replies in the webhook answer (webhook.reply_in_answer) beside the normal path.

For each mode, a fresh bot-server on SQLite (synchronous = FULL) pinned to CPU 1 takes a
closed-loop wrk load (one thread, CONNS connections, pinned to CPU 0, bench/reply.lua) of
private-chat /start updates; the peers bench's fake Bot API (CPU 0) counts the sendMessage
requests. Processed = replies that reached the "Telegram" side: sendMessage requests at the
fake API plus answers that carried the reply (counted by wrk). Each measured window follows a
warm-up, and the SUT's CPU time (utime + stime from /proc) is divided by the updates processed
from the window's start until nothing more arrives.

Usage: reply_mode.py BOT_SERVER FAKEAPI OUT_JSON [--seconds 10] [--conns 40] [--repeat 3]
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
SECRET = "bench-secret"
TICK = os.sysconf("SC_CLK_TCK")


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def wait_up(url, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def sent(fake):
    return get_json(f"{fake}/stats")["send_message_total"]


def wrk(port, conns, seconds, base):
    argv = ["taskset", "-c", "0", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s",
            "-s", os.path.join(HERE, "reply.lua"), f"http://{HOST}:{port}/webhook", "--",
            str(base), "1000", SECRET]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("WRKJSON "))
    return json.loads(line[len("WRKJSON "):])


def one(args, reply, port, base):
    tmp = tempfile.mkdtemp(prefix="telbot-reply-bench-")
    env = {
        "PATH": os.environ["PATH"], "RUST_LOG": "warn", "PORT": str(port),
        "TELEGRAM_API_URL": args.fake, "TELEGRAM_BOT_TOKEN": "123:replybench",
        "WEBHOOK_SECRET": SECRET, "PUBLIC_URL": f"http://{HOST}:{port}", "BOT_MODE": "webhook",
        "DATABASE_URL": f"sqlite://{tmp}/bench.db", "DATA_DIR": tmp,
        "ADMIN_TOKEN": "bench-admin-token-0123456789", "TELBOT__TELEGRAM__RATE_LIMIT": "false",
        "TELBOT__SERVER__HOST": HOST,
        "TELBOT__WEBHOOK__REPLY_IN_ANSWER": "true" if reply else "false",
    }
    proc = subprocess.Popen(["taskset", "-c", "1", args.bot], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(f"http://{HOST}:{port}/health")
        wrk(port, args.conns, 3, base)  # warm-up
        time.sleep(1)
        s0, c0 = sent(args.fake), cpu_s(proc.pid)
        r = wrk(port, args.conns, args.seconds, base + 5_000_000)
        s_window = sent(args.fake) - s0
        # Drain: what was acknowledged but not yet answered.
        last, still = sent(args.fake), 0
        while still < 10:
            time.sleep(0.1)
            now = sent(args.fake)
            still = still + 1 if now == last else 0
            last = now
        c1 = cpu_s(proc.pid)
        dur = r["duration_us"] / 1e6
        ok = r["requests"] - r["errors_status"]
        processed = (last - s0) + r["replies_in_answer"]
        return {
            "mode": "reply_in_answer" if reply else "normal",
            "acked": ok, "ack_rps": round(ok / dur, 1),
            "replies_in_answer": r["replies_in_answer"],
            "send_message_requests": last - s0,
            "processed_in_window_rps": round((s_window + r["replies_in_answer"]) / dur, 1),
            "cpu_ms_per_processed": round((c1 - c0) * 1000 / max(processed, 1), 4),
            "ack_p50_ms": r["lat_p50_us"] / 1e3, "ack_p99_ms": r["lat_p99_us"] / 1e3,
            "socket_errors": r["errors_socket"], "non_2xx": r["errors_status"],
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bot")
    ap.add_argument("fakeapi")
    ap.add_argument("out")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--conns", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fake-port", type=int, default=18181)
    ap.add_argument("--port", type=int, default=18182)
    args = ap.parse_args()
    args.fake = f"http://{HOST}:{args.fake_port}"
    fake = subprocess.Popen(["taskset", "-c", "0", args.fakeapi],
                            env={**os.environ, "FAKEAPI_PORT": str(args.fake_port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = []
    try:
        wait_up(f"{args.fake}/stats")
        base = 1
        for rep in range(args.repeat):
            for reply in (False, True):
                r = one(args, reply, args.port, base)
                base += 20_000_000
                r["repeat"] = rep + 1
                print(json.dumps(r), flush=True)
                runs.append(r)
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    summary = {}
    for mode in ("normal", "reply_in_answer"):
        rs = [r for r in runs if r["mode"] == mode]
        med = lambda k: sorted(r[k] for r in rs)[len(rs) // 2]
        summary[mode] = {k: med(k) for k in ("processed_in_window_rps", "ack_rps",
                                             "cpu_ms_per_processed", "ack_p50_ms", "ack_p99_ms")}
    doc = {
        "what": "bench/reply-mode.sh: bot-server normal vs webhook.reply_in_answer, SQLite FULL",
        "conns": args.conns, "seconds": args.seconds, "repeat": args.repeat,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "runs": runs, "medians": summary,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

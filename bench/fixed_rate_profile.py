#!/usr/bin/env python3
"""Where bot-server's CPU goes at a fixed, low rate (issue 15's CPU per processed update).

Starts the fake Bot API (CPU 0) and a fresh bot-server on SQLite (synchronous = FULL, pinned
to CPU 1), posts /start updates at RATE per second for SECONDS from CPU 0 (paced keep-alive
connections), waits until every update is answered, and prints per processed update: user
and system CPU time (/proc/PID/stat), context switches of all of its threads (voluntary and
involuntary, /proc/PID/task/*/status), the threads by CPU time, and where the ack's time
goes: bot-server's own histograms over the measured window (`/metrics`), the time from
request to 200 (`telbot_webhook_ack_seconds`) beside the time of each batch commit, the
disk's flush included (`telbot_inbox_commit_seconds`), as the share of observations above
each bucket edge. Extra bot-server settings as KEY=VALUE arguments, e.g.
TELBOT__WEBHOOK__REPLY_IN_ANSWER=true.

Usage: fixed_rate_profile.py BOT_SERVER FAKEAPI [--rate 1000] [--seconds 10] [KEY=VALUE ...]
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

HOST = "127.0.0.1"
SECRET = "bench-secret"
TICK = os.sysconf("SC_CLK_TCK")
FMT = ('{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,'
       '"first_name":"Bench"},"chat":{"id":%d,"first_name":"Bench","type":"private"},'
       '"date":%d,"text":"/start","entities":[{"offset":0,"length":6,"type":"bot_command"}]}}')


def wait_up(url):
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def stop_all(bot, fake, tmp):
    """Stops bot-server and the fake Bot API and removes the bench's directory."""
    bot.terminate()
    bot.wait(timeout=30)
    fake.terminate()
    fake.wait(timeout=10)
    shutil.rmtree(tmp, ignore_errors=True)


def stats(fake):
    with urllib.request.urlopen(f"{fake}/stats", timeout=5) as r:
        return json.load(r)["send_message_total"]


HISTOGRAMS = ("telbot_webhook_ack_seconds", "telbot_inbox_commit_seconds")


def histograms(port):
    """Cumulative bucket counts {name: {le: count}} of HISTOGRAMS from bot-server's /metrics."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {n: {} for n in HISTOGRAMS}
    for line in text.splitlines():
        for n in HISTOGRAMS:
            if line.startswith(n + '_bucket{le="'):
                le, _, v = line[len(n) + 12:].partition('"} ')
                out[n][le] = float(v)
    return out


def tail_shares(h0, h1):
    """Per histogram: observations in the window and the share above each bucket edge (ms)."""
    res = {}
    for n in HISTOGRAMS:
        total = h1[n].get("+Inf", 0) - h0[n].get("+Inf", 0)
        if total <= 0:
            res[n] = {"observations": 0}
            continue
        above = {}
        for le, v in h1[n].items():
            if le == "+Inf" or float(le) > 0.01:
                continue
            above[f"> {float(le) * 1000:g} ms"] = round(1 - (v - h0[n].get(le, 0)) / total, 4)
        res[n] = {"observations": int(total), "share_above": above}
    return res


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        x = f.read().rsplit(")", 1)[1].split()
    return int(x[11]) / TICK, int(x[12]) / TICK


def threads(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
            name = head.split("(", 1)[1]
            x = rest.split()
            cs = {}
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                        cs[k] = int(v)
            out[tid] = (name, (int(x[11]) + int(x[12])) / TICK,
                        cs.get("voluntary_ctxt_switches", 0), cs.get("nonvoluntary_ctxt_switches", 0))
        except FileNotFoundError:
            pass
    return out


def post_at_rate(port, rate, seconds, base, conns=20):
    per_conn = rate / conns
    stop_at = time.time() + seconds
    sent = [0] * conns

    def run(c):
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        t0 = time.time()
        i = 0
        while True:
            due = t0 + i / per_conn
            if due >= stop_at:
                return
            d = due - time.time()
            if d > 0:
                time.sleep(d)
            uid = base + c * 10_000_000 + i
            chat = 500000000 + (uid % 1000)
            conn.request("POST", "/webhook", FMT % (uid, uid, chat, chat, int(t0)),
                         {"Content-Type": "application/json",
                          "X-Telegram-Bot-Api-Secret-Token": SECRET})
            r = conn.getresponse()
            body = r.read()
            if r.status == 200:
                sent[c] += 1 if b'"method"' not in body else 0
                answered[c] += 1 if b'"method"' in body else 0
            i += 1

    answered = [0] * conns
    ts = [threading.Thread(target=run, args=(c,)) for c in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(sent), sum(answered)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bot")
    ap.add_argument("fakeapi")
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("extra", nargs="*")
    a = ap.parse_intermixed_args()
    fport, port = 18281, 18282
    fake_url = f"http://{HOST}:{fport}"
    fake = subprocess.Popen(["taskset", "-c", "0", a.fakeapi], env={**os.environ, "FAKEAPI_PORT": str(fport)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="telbot-rate-")
    env = {"PATH": os.environ["PATH"], "RUST_LOG": "warn", "PORT": str(port),
           "TELEGRAM_API_URL": fake_url, "TELEGRAM_BOT_TOKEN": "123:ratebench",
           "WEBHOOK_SECRET": SECRET, "PUBLIC_URL": f"http://{HOST}:{port}", "BOT_MODE": "webhook",
           "DATABASE_URL": f"sqlite://{tmp}/bench.db", "DATA_DIR": tmp,
           "ADMIN_TOKEN": "bench-admin-token-0123456789", "TELBOT__TELEGRAM__RATE_LIMIT": "false",
           "TELBOT__SERVER__HOST": HOST, "METRICS_PUBLIC": "true"}
    env.update(kv.split("=", 1) for kv in a.extra)
    bot = subprocess.Popen(["taskset", "-c", "1", a.bot], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(f"{fake_url}/stats")
        wait_up(f"http://{HOST}:{port}/health")
        post_at_rate(port, a.rate, 2, 1)  # warm-up
        time.sleep(1)
        h0 = histograms(port)
        s0, (u0, k0), t0 = stats(fake_url), proc_cpu(bot.pid), threads(bot.pid)
        acked, in_answer = post_at_rate(port, a.rate, a.seconds, 100_000_000)
        want = s0 + acked
        for _ in range(100):
            if stats(fake_url) >= want:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        s1, (u1, k1), t1 = stats(fake_url), proc_cpu(bot.pid), threads(bot.pid)
        h1 = histograms(port)
        n = (s1 - s0) + in_answer
        vol = sum(t1[t][2] - t0.get(t, (0, 0, 0, 0))[2] for t in t1)
        inv = sum(t1[t][3] - t0.get(t, (0, 0, 0, 0))[3] for t in t1)
        by_name = {}
        for t, (name, cpu, _, _) in t1.items():
            by_name[name] = by_name.get(name, 0) + cpu - t0.get(t, (name, 0, 0, 0))[1]
        print(json.dumps({
            "rate": a.rate, "seconds": a.seconds, "extra": a.extra, "processed": n,
            "replies_in_answer": in_answer,
            "user_ms_per_update": round((u1 - u0) * 1000 / n, 4),
            "sys_ms_per_update": round((k1 - k0) * 1000 / n, 4),
            "voluntary_cs_per_update": round(vol / n, 2),
            "involuntary_cs_per_update": round(inv / n, 2),
            "thread_cpu_ms_per_update": {k: round(v * 1000 / n, 4)
                                         for k, v in sorted(by_name.items(), key=lambda kv: -kv[1]) if v > 0},
            "latency": tail_shares(h0, h1),
        }, indent=1))
    finally:
        stop_all(bot, fake, tmp)


if __name__ == "__main__":
    main()

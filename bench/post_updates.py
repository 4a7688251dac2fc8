"""Posts N private-chat /start updates (the peers bench's shape, 1,000 chats round-robin) to
127.0.0.1:PORT/webhook over 8 keep-alive connections, then waits until the fake Bot API has
seen N sendMessage calls (or 600 s pass). With a fifth argument `answers`, a reply may also come
in the webhook's answer (webhook.reply_in_answer): those are counted and only the rest is
waited for at the fake API. Usage: post_updates.py PORT N SECRET STATS_URL [answers]"""
import http.client
import json
import sys
import threading
import time
import urllib.request

port, n, secret, stats = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
FMT = ('{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,'
       '"first_name":"Bench","last_name":"User","username":"bench_user_%d","language_code":"en"},'
       '"chat":{"id":%d,"first_name":"Bench","last_name":"User","username":"bench_user_%d",'
       '"type":"private"},"date":%d,"text":"/start","entities":[{"offset":0,"length":6,'
       '"type":"bot_command"}]}}')
THREADS = 8
now = int(time.time())
in_answers = [0] * THREADS


def post(tid):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(tid, n, THREADS):
        chat = 500000000 + i % 1000
        body = FMT % (i + 1, i + 1, chat, chat, chat, chat, now)
        while True:
            conn.request("POST", "/webhook", body, {
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": secret})
            r = conn.getresponse()
            got = r.read()
            if r.status == 200:
                if b'"method"' in got:
                    in_answers[tid] += 1
                break
            time.sleep(0.1)


ts = [threading.Thread(target=post, args=(t,)) for t in range(THREADS)]
for t in ts:
    t.start()
for t in ts:
    t.join()
deadline = time.time() + 600
while time.time() < deadline:
    s = json.load(urllib.request.urlopen(stats))
    if s["send_message_total"] + sum(in_answers) >= n:
        break
    time.sleep(0.2)
else:
    sys.exit(f"only {s} sendMessage calls seen")

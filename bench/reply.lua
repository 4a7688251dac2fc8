-- wrk script for bench/reply-mode.sh: the peers bench's update.lua (a private-chat "/start"
-- Update with a unique update_id, chats round-robin), plus a count of answers that carry the
-- reply in their body ({"method":...}, bot-server's webhook.reply_in_answer).
-- Usage: wrk ... -s reply.lua URL -- BASE_UPDATE_ID CHATS SECRET
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

local counter = 0
replies = 0  -- global: done() reads it with thread:get
local base = 1
local chats = 1000
local chat_base = 500000000
local date = os.time()
local stride = 5000000

local fmt = '{"update_id":%d,"message":{"message_id":%d,' ..
  '"from":{"id":%d,"is_bot":false,"first_name":"Bench","last_name":"User","username":"bench_user_%d","language_code":"en"},' ..
  '"chat":{"id":%d,"first_name":"Bench","last_name":"User","username":"bench_user_%d","type":"private"},' ..
  '"date":%d,"text":"/start","entities":[{"offset":0,"length":6,"type":"bot_command"}]}}'

function init(args)
  base = tonumber(args[1]) or 1
  chats = tonumber(args[2]) or 1000
  local secret = args[3] or "bench-secret"
  base = base + (tonumber(tid) or 0) * stride
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Telegram-Bot-Api-Secret-Token"] = secret
end

function request()
  local uid = base + counter
  local chat = chat_base + (counter % chats)
  counter = counter + 1
  local body = string.format(fmt, uid, uid, chat, chat, chat, chat, date)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 200 and body and string.find(body, '"method"', 1, true) then
    replies = replies + 1
  end
end

function done(summary, latency, requests)
  local total_replies = 0
  for _, t in ipairs(threads) do
    total_replies = total_replies + (t:get("replies") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"replies_in_answer":%d,"duration_us":%d,"errors_status":%d,' ..
    '"errors_socket":%d,"lat_p50_us":%d,"lat_p99_us":%d,"lat_max_us":%d}\n',
    summary.requests, total_replies, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end

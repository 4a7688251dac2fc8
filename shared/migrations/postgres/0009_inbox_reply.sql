-- The reply that rode on the webhook answer (bot-server's webhook.reply_in_answer): the Bot API
-- call as Telegram received it ({"method": ...}), stored with the update's completion, so a
-- redelivery of the update is answered with the same reply instead of running the handler again.
-- NULL: no such reply (the handler's calls went out as normal requests).
ALTER TABLE inbox ADD COLUMN reply TEXT;

-- Escalation and acknowledgement of alert incidents (issue 16, part 5), kept with the
-- incident so a restarted watchdog neither escalates twice nor forgets an acknowledgement.
-- All three are cleared when the incident resolves.
-- escalated_at: when the incident went to the escalation channels (alerts.escalate_after).
-- acked_at, acked_by: `watchdog ack INCIDENT [--by NAME]`: when and who; no reminders or
-- escalation after it, the RESOLVED message still goes out.
ALTER TABLE alert_incidents ADD COLUMN escalated_at BIGINT;
ALTER TABLE alert_incidents ADD COLUMN acked_at BIGINT;
ALTER TABLE alert_incidents ADD COLUMN acked_by TEXT;

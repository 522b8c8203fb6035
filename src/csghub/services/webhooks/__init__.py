"""Webhooks as Hugging Face defines them: a user's webhooks (hooks), the events that queue deliveries
(events, payloads), and the loop that sends them with retries (deliveries)."""

"""Messages to people: the outbox of texts (citizen codes) and the notifications outbox."""

"""The cross-province exchange (R8): a migrant's facts reach the province of her hukou.

`identity` (this province's keys and the registry of partners), `message` (the versioned,
signed and sealed message), `outbox` (messages written in the transaction of their fact),
`relay` (outbox → NATS JetStream), `receive` (the durable consumer: verify, open, ingest, link,
acknowledge after commit), `status` (lag, pending, rejected). See docs/exchange.md.
"""

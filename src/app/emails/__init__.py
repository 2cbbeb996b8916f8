"""The emails domain: a transactional outbox, templates and the transports that deliver them."""

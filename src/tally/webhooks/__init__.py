"""Webhooks: a transactional outbox, signed delivery with retries, and endpoint configuration."""

"""How reviewhub meets the outside: webhook signing, delivery and its URL guard, the task
outbox, idempotent API writes, API keys and uploads. Nothing here wraps a service."""

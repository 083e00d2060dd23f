"""FastAPI: health, metrics, the admin API, and the webhook routes that hand off to bot/."""

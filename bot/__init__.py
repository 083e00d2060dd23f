"""Channels: console, Telegram (aiogram 3), Slack (slack-bolt). They only translate."""

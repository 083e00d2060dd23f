"""Telegram channel (aiogram 3): webhook and long polling; handlers only translate."""

from bot.telegram.app import TelegramBot, TelegramNotConfigured, build_telegram

__all__ = ["TelegramBot", "TelegramNotConfigured", "build_telegram"]

"""The Slack channel (slack-bolt): slash command, mentions, DMs, threads, buttons and modals."""

"""User-facing data in pt-BR: the section catalogue and the message catalogue."""

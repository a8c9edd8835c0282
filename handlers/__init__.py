"""Telegram journeys: one module each, thin (parse the update, call the core, render the reply)."""

"""Emptied: the spot reminders moved to bot/vending/reminders.py; the case timers, the draft nudge and the digest
to bot/cases (timers, drafts, digest). The firing of every reminder kind is bot/scheduled.py. (To be deleted.)
"""

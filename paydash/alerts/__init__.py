"""Alerts: tell the right person when something needs a human, once per problem.

conditions (what is worth an alert, read from the ledger), engine (each problem's state:
open, still open, cleared), recipients (who hears what, mutes), messages (plain words),
delivery (email and webhook, retried), digest (the daily summary of what stayed quiet)
and watch (the consumer's probe of the database and the broker).
"""

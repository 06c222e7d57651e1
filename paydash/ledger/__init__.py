"""The job ledger: what Huey forgets, kept in the app's database.

It creates and dispatches jobs, claims and fences each attempt, heart-beats, recovers
lost jobs, prunes history and answers the dashboard's statistics. It is a library any
Flask + Huey app could use: it may import the shared infrastructure (`paydash.config`,
`paydash.extensions`, `paydash.clock`) and nothing of the HR product (sheets, payroll,
charts, services, web, accounts). The rule is checked by import-linter (pyproject.toml).
"""

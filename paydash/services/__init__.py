"""Services that orchestrate the domain packages for one user action: an upload from
receipt to commit, user and audit administration, demo data. Web views and tasks call
these; they call down into sheets, payroll, charts and the ledger and never back up.
"""

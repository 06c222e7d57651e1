"""Paydash: payroll dashboards for small-business HR, on a job queue admins can trust."""

"""Payroll periods in words, for pages, messages and exports."""
import calendar


def month_label(year: int, month: int) -> str:
    """"October 2026"."""
    return f"{calendar.month_name[month]} {year}"

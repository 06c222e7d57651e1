"""Payroll: the pure month calculator and statutory rules, employees, the browser month
sheet, advances, tenant payroll policy and the salary register. It may ask the charts for
a sync after a month is saved; it never imports web, tasks or services.
"""

"""Chart data: the set-based aggregation of a period's salary rows into
ChartAggregatedData (with its retention), and the dashboard's read-only queries. It uses
the ledger to request a sync; it never imports payroll, sheets, web or tasks.
"""

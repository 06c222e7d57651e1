"""`paydash/charts/aggregation.py` as it was at 1f3a984 (top earners ranked over every row
of the period): the oracle test_top_earners_exact.py compares the faster ranking with.
Taken from git, not copied, so that it is the earlier code word for word.
"""
from earlier_code import module_at

sync_chart_data = module_at("1f3a984", "paydash/charts/aggregation.py",
                            "aggregation_before").sync_chart_data

"""`paydash/payroll/imported.py` as it was at 1f3a984 (carry_terms written through the ORM's
bulk UPDATE by primary key): the oracle test_carry_terms_sets.py compares the faster write
with. Taken from git, not copied, so that it is the earlier code word for word.
"""
from earlier_code import module_at

carry_terms = module_at("1f3a984", "paydash/payroll/imported.py", "carry_terms_before").carry_terms

"""Salary sheets as files: upload checks, the streaming reader, header mapping, row
conversion into plain values, staging, and the workbooks Paydash writes (template, error
report). Pure where it can be: it imports neither Flask views nor the ledger.
"""

"""Who read what: every staff read of evidence or personal data leaves a row an auditor can list.

Owns the ``personal_data_reads`` table. The adapters record a read (``service.record_read``) in a
transaction of its own before they answer with the data: if the record cannot be written, the
data is not shown. Rows are never updated or deleted by the platform.
"""

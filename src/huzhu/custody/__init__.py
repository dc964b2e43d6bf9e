"""Custody: the platform's side of the custodian bank — the bank interface, ISO 20022 messages,
payment instructions (two-phase in the ledger) and the reconciliation of the ledger against the
bank's statements. The platform instructs and mirrors; it never holds money."""

"""The ledger: double-entry, append-only accounts, transfers and entries in integer fen, two-phase
where money leaves the bank, running totals per account, set-based bulk transfers (``bulk``), and the
invariants ``huzhu ledger check`` verifies. The only package that writes the ledger tables."""

"""The ledger: accounts, transfers and entries, their invariants; the only package that writes them."""

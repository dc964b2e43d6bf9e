"""Apportionment: runs that share every due case across its plan's members (pure water-filling in
``shares``, set-based SQL in ``service``), payouts to the beneficiary through the custodian, and the
per-member share proofs. Owns ``apportionment_runs`` and ``run_cases``; money moves only through
the ledger."""

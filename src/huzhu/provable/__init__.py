"""Every fen provable: per-case run files and Merkle-sum trees, the daily liabilities tree, the
leftover-fen rule version 2, and members' proofs (issue 10). The pure parts live in ``huzhu_verify``."""

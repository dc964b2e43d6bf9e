"""Error codes of the published trees and run files."""

from __future__ import annotations

from huzhu.errors import ErrorCode


class ProvableError(ErrorCode):
    NOT_SHARED_IN_RUN = ("provable.not_shared_in_run", "case %(case)s was not shared in run %(run)s")
    NO_RUN_FILE = ("provable.no_run_file",
                   "case %(case)s was shared under leftover rule 1: no run file was published for it")
    NO_LIABILITIES = ("provable.no_liabilities", "no liabilities tree has been published yet")
    NO_BALANCE_LEAF = ("provable.no_balance_leaf", "no published liabilities tree holds member %(member)s yet")

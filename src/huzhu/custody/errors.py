"""The custodian bank's coded refusals (with their Chinese in the catalogs)."""

from __future__ import annotations

from huzhu.errors import Conflict, ErrorCode


class CustodyError(ErrorCode):
    BANK_REQUIRED = ("custody.bank_required",
                     "production mode moves money only through the custodian bank: set HUZHU_CUSTODY_BANK to the "
                     "bank's https:// URL (with HUZHU_CUSTODY_BANK_CERTS), or run with HUZHU_MODE=sandbox")
    NO_BANK = ("custody.no_bank", "no custodian bank is configured: set HUZHU_CUSTODY_BANK")
    BANK_UNREACHABLE = ("custody.bank_unreachable",
                        "the custodian bank did not answer; nothing was lost, try again later")


class BankRequired(Conflict):
    """Production mode without a custodian bank: money does not move (see docs/custodian.md)."""

    type_slug = "custody-bank-required"
    title = "Custodian bank required"


class BankUnavailable(Conflict):
    status_code = 503
    type_slug = "custody-bank-unavailable"
    title = "Custodian bank unavailable"

"""The receipts' refusals."""

from __future__ import annotations

from huzhu.errors import ErrorCode


class ReceiptError(ErrorCode):
    NOT_PAID = ("receipts.not_paid", "claim %(claim)s has not been paid yet; its receipt comes with the payment")

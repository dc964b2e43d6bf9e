"""The beneficiary's payout receipt: the facts of a paid claim (``receipt_of``) and the PDF that
states them in Chinese with English beside (``receipt_pdf``)."""

from huzhu.receipts.service import Receipt, receipt_of, receipt_pdf

__all__ = ["Receipt", "receipt_of", "receipt_pdf"]

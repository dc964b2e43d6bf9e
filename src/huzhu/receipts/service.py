"""A paid claim's receipt, for the beneficiary to keep or hand to a bank, an employer or a court.

The PDF is drawn with reportlab and its built-in CJK CID font ``STSong-Light`` (Adobe's Song face
every PDF reader has for Simplified Chinese), so no font file ships or downloads; the text is real
text (searchable, copyable), not an image. It holds the beneficiary's name and the last four
digits of the account only: it is the family's own document, never published.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.apportionment.payouts import payout_of
from huzhu.claims.models import Claim
from huzhu.clock import CHINA_TZ
from huzhu.members.models import Member
from huzhu.money import format_yuan
from huzhu.notices.models import Case, CaseStatus
from huzhu.plans.schemas import Plan


@dataclass(frozen=True)
class Receipt:
    claim_no: str
    case_no: str
    plan_zh: str
    plan_en: str
    benefit_zh: str
    benefit_en: str
    member_name: str
    beneficiary_name: str
    account_last_digits: str
    approved_fen: int
    paid_fen: int
    shortfall_fen: int
    fee_fen: int
    paid_at: datetime
    bank_reference: str | None
    notice_starts_at: datetime
    notice_ends_at: datetime
    run_no: str | None
    paying_members: int | None
    issued_at: datetime

    @property
    def receipt_no(self) -> str:
        return f"{self.case_no}-{self.bank_reference or 'NOPAY'}"


def receipt_of(session: Session, *, plans: Mapping[str, Plan], claim: Claim, now: datetime) -> Receipt | None:
    """The receipt of a claim whose case the bank has paid (None before that)."""
    case = session.scalar(select(Case).where(Case.claim_id == claim.id, Case.status == CaseStatus.PAID)
                          .order_by(Case.id.desc()).limit(1))
    payout = payout_of(session, case) if case else None
    if case is None or payout is None:
        return None
    member = session.get(Member, claim.member_id)
    plan = plans.get(claim.plan_code)
    benefit = plan.benefit(claim.benefit_code) if plan else None
    run_case = session.scalar(select(RunCase).where(RunCase.case_id == case.id))
    run = session.get(ApportionmentRun, run_case.run_id) if run_case else None
    return Receipt(
        claim_no=claim.claim_no, case_no=case.case_no,
        plan_zh=plan.name_zh if plan else claim.plan_code, plan_en=plan.name_en if plan else claim.plan_code,
        benefit_zh=benefit.name_zh if benefit else claim.benefit_code,
        benefit_en=benefit.name_en if benefit else claim.benefit_code,
        member_name=member.name if member else "", beneficiary_name=claim.beneficiary_name,
        account_last_digits=payout.account_last_digits, approved_fen=case.amount_fen, paid_fen=payout.amount_fen,
        shortfall_fen=payout.shortfall_fen, fee_fen=case.fee_fen, paid_at=payout.paid_at,
        bank_reference=payout.bank_reference, notice_starts_at=case.notice_starts_at,
        notice_ends_at=case.notice_ends_at, run_no=run.run_no if run else None,
        paying_members=run_case.paying_members if run_case else None, issued_at=now,
    )


def _yuan(fen: int) -> str:
    whole, _, cents = format_yuan(fen).partition(".")
    return f"{int(Decimal(whole)):,}.{cents} 元"


def _day(value: date | datetime) -> str:
    if isinstance(value, datetime):
        local = value.astimezone(CHINA_TZ)
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{value.year}年{value.month}月{value.day}日"


def receipt_lines(receipt: Receipt) -> list[tuple[str, str, str]]:
    """(Chinese label, English label, value) in the order the receipt prints them."""
    return [
        ("凭证编号", "Receipt no.", receipt.receipt_no),
        ("互助申请", "Claim", receipt.claim_no),
        ("互助事件", "Public case", receipt.case_no),
        ("互助计划", "Plan", f"{receipt.plan_zh}（{receipt.plan_en}）"),
        ("保障项目", "Aid", f"{receipt.benefit_zh}（{receipt.benefit_en}）"),
        ("会员", "Member", receipt.member_name),
        ("受益人", "Beneficiary", receipt.beneficiary_name),
        ("收款账户", "Account", f"尾号 {receipt.account_last_digits}（ending {receipt.account_last_digits}）"),
        ("公示期", "Public notice", f"{_day(receipt.notice_starts_at)} 至 {_day(receipt.notice_ends_at)}"),
        ("分摊批次", "Apportionment run", f"{receipt.run_no or '—'}，{receipt.paying_members or 0:,} 位会员分摊"),
        ("核定金额", "Amount by the rules", _yuan(receipt.approved_fen)),
        ("实付金额", "Paid to the beneficiary", _yuan(receipt.paid_fen)),
        ("筹集缺口", "Shortfall (published)", _yuan(receipt.shortfall_fen)),
        ("平台收费", "Platform fee", _yuan(receipt.fee_fen) + "（零利润 zero profit）"),
        ("支付时间", "Paid at", _day(receipt.paid_at)),
        ("银行流水号", "Bank reference", receipt.bank_reference or "未经银行（无筹集金额） no payment sent"),
        ("开具时间", "Issued at", _day(receipt.issued_at)),
    ]


FONT = "STSong-Light"


def receipt_pdf(receipt: Receipt) -> bytes:
    """The receipt as a one-page A4 PDF (Chinese with English labels beside)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"互助金支付凭证 {receipt.receipt_no}")
    pdf.setAuthor("huzhu 互助")
    pdf.setSubject("Mutual-aid payout receipt")
    width, height = A4
    left, y = 56, height - 72
    pdf.setFont(FONT, 20)
    pdf.drawString(left, y, "互助金支付凭证")
    pdf.setFont(FONT, 11)
    pdf.drawString(left, y - 20, "Mutual-aid payout receipt")
    y -= 52
    pdf.setLineWidth(0.6)
    pdf.line(left, y + 12, width - left, y + 12)
    for zh, en, value in receipt_lines(receipt):
        pdf.setFont(FONT, 11)
        pdf.drawString(left, y, zh)
        pdf.setFont(FONT, 8)
        pdf.drawString(left, y - 11, en)
        pdf.setFont(FONT, 11)
        pdf.drawString(left + 130, y, value)
        y -= 30
    pdf.line(left, y + 12, width - left, y + 12)
    pdf.setFont(FONT, 9)
    notes = [
        "本凭证由互助平台根据托管银行的付款确认开具；资金由托管银行直接支付给受益人，平台不经手会员资金。",
        "This receipt is issued from the custodian bank's confirmation of payment; the bank paid the beneficiary",
        "directly and the platform never held the money. The case, its run and its payout are public records.",
    ]
    for line in notes:
        y -= 14
        pdf.drawString(left, y, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()

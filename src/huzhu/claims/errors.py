"""The claims domain's error codes (filing, investigation, evidence)."""

from __future__ import annotations

from huzhu.errors import ErrorCode


class ClaimError(ErrorCode):
    UNKNOWN_FACTS = ("claims.unknown_facts", "unknown claim facts %(unknown)s; allowed: %(allowed)s")
    GRADES = ("claims.grades", "disability_grades must be a non-empty list of grades from 1 (most severe) to 10")
    FAULT_FORMAT = ("claims.fault_format",
                    "fault_share_percent must be a number from 0 to 100 with at most two decimals")
    FAULT_RANGE = ("claims.fault_range", "fault_share_percent must be from 0 to 100")
    WRONG_STATE = ("claims.wrong_state", "claim %(claim)s is %(status)s; this action needs it to be %(expected)s")
    NO_SUCH_CLAIM = ("claims.no_such_claim", "claim %(claim)s does not exist")
    NOT_ALLOWED = ("claims.not_allowed", "not allowed: claims are for their own account and for staff")
    NO_SUCH_BENEFIT = ("claims.no_such_benefit", "plan %(plan)s has no benefit %(benefit)s; its benefits are: %(benefits)s")
    INCIDENT_IN_FUTURE = ("claims.incident_in_future", "the incident date cannot be in the future")
    BENEFICIARY_NAME = ("claims.beneficiary_name", "beneficiary name is required (at most 100 characters)")
    BENEFICIARY_ACCOUNT = ("claims.beneficiary_account", "beneficiary bank account must be 12 to 19 digits")
    TEXT_TOO_LONG = ("claims.text_too_long", "description is limited to 5000 characters and place to 200")
    NEVER_JOINED = ("claims.never_joined", "member %(member)s has never joined plan %(plan)s")
    BEFORE_IN_FORCE = ("claims.before_in_force",
                       "the incident on %(incident)s is before %(benefit)s came into force on %(in_force)s")
    ALREADY_OPEN = ("claims.already_open", "a claim for this member, benefit and incident date is already open")
    NOT_ASSIGNED = ("claims.not_assigned", "only the investigator assigned to this claim can submit its report")
    REPORT_REQUIRED = ("claims.report_required", "the investigation company and a public summary are required")
    REPORT_TOO_LONG = ("claims.report_too_long", "summary is limited to 5000 characters and company to 200")
    CONFIRMED_IN_FUTURE = ("claims.confirmed_in_future", "the confirmed incident date cannot be in the future")
    MEMBERS_FILE = ("claims.members_file",
                    "a claim is filed by the member's own account, with the account to be paid; staff cannot file "
                    "one for a member (a payee is changed by a second staff member's approval)")
    NOT_ASSIGNED_READ = ("claims.not_assigned_read",
                         "an investigator sees the claims waiting for an investigator and those assigned to them")
    RULE_CHECKS_ONLY = ("claims.rule_checks_only", "the rule checks are for reviewers, admins and auditors")


class EvidenceError(ErrorCode):
    TOO_LARGE = ("claims.evidence.too_large", "%(name)s is larger than the limit of %(mb)s MB.")
    EMPTY = ("claims.evidence.empty", "%(name)s is empty.")
    FILE_TYPE = ("claims.evidence.file_type", "%(name)s is not a PDF, JPEG or PNG file.")
    MISSING = ("claims.evidence.missing", "the stored document is missing")
    NOT_ASSIGNED = ("claims.evidence.not_assigned",
                    "only the investigator assigned to this claim can add evidence to it")
    ROLE_CANNOT_ADD = ("claims.evidence.role_cannot_add", "the %(role)s role cannot add evidence")
    CLOSED = ("claims.evidence.closed", "claim %(claim)s is %(status)s; evidence is closed")
    KIND = ("claims.evidence.kind", "evidence kind must be one of %(kinds)s")
    NOT_ASSIGNED_READ = ("claims.evidence.not_assigned_read",
                         "only the investigator assigned to this claim can read its documents")
    AUDITORS = ("claims.evidence.auditors", "auditors see finance, not medical documents")
    NO_SUCH_EVIDENCE = ("claims.evidence.no_such_evidence", "evidence %(evidence)s does not exist")


class PayeeError(ErrorCode):
    FOUR_EYES = ("claims.payee.four_eyes",
                 "a change of payee needs a second staff member: the one who proposed it cannot decide it")
    ROLE = ("claims.payee.role", "changes of payee are proposed and decided by reviewers and administrators")
    REASON = ("claims.payee.reason", "say why the payee changes (at least 5 characters, at most 2000)")
    ALREADY_OPEN = ("claims.payee.already_open",
                    "claim %(claim)s already has a payee change waiting for a decision")
    NOT_OPEN = ("claims.payee.not_open", "payee change %(change)s was already %(status)s")
    NO_SUCH_CHANGE = ("claims.payee.no_such_change", "payee change %(change)s does not exist")
    UNCHANGED = ("claims.payee.unchanged", "the proposed payee is the claim's payee already")
    PAYOUT_STARTED = ("claims.payee.payout_started",
                      "case %(case)s is %(status)s: the payout was sent to the bank, so its payee can no longer change")

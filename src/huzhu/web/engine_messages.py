"""The engine's fixed error messages (English), listed so the catalog can translate them.

Pages show ``ctx._(exc.message)``: a message found here appears in the page's language; any other
(with values in it) is shown as the engine wrote it.
"""

from huzhu.web.i18n import N_

ENGINE_MESSAGES = (
    N_("the login or the password is wrong"),
    N_("an account with this login already exists"),
    N_("login must be a mainland mobile number (11 digits, e.g. 13812345678) or an e-mail address"),
    N_("display name must be 1 to 100 characters"),
    N_("name must be 1 to 100 characters"),
    N_("a member with this ID number is already registered"),
    N_("this account already has a member registered as 'self'"),
    N_("ID number: the check character (the last one) does not match the other digits; "
       "please look for a typing mistake"),
    N_("ID number: the first 17 characters must be digits"),
    N_("ID number: the last character must be a digit or X"),
    N_("ID number is empty"),
    N_("bank account must be 12 to 19 digits"),
    N_("beneficiary bank account must be 12 to 19 digits"),
    N_("beneficiary name is required (at most 100 characters)"),
    N_("the incident date cannot be in the future"),
    N_("an objection needs a reason of 5 to 2000 characters"),
    N_("this member has already objected to this case"),
    N_("only members in a plan may object to a case"),
    N_("a rejection needs a reason"),
    N_("an objection must be resolved by a reviewer who neither approved nor investigated the case"),
    N_("the investigator of a claim cannot review it"),
    N_("a resolution note of 2 to 2000 characters is required"),
    N_("the investigation company and a public summary are required"),
    N_("a claim for this member, benefit and incident date is already open"),
    N_("top-up amount must be greater than zero"),
    N_("withdrawal amount must be greater than zero"),
    N_("only the investigator assigned to this claim can submit its report"),
    N_("amount: amount must be greater than zero"),
    N_("the confirmed incident date cannot be in the future"),
    N_("a bank account is needed to refund the remaining balance"),
)

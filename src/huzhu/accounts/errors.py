"""The accounts domain's error codes (logins, passwords, roles)."""

from __future__ import annotations

from huzhu.errors import ErrorCode


class AccountError(ErrorCode):
    LOGIN_FORM = ("accounts.login_form",
                  "login must be a mainland mobile number (11 digits, e.g. 13812345678) or an e-mail address")
    UNKNOWN_ROLE = ("accounts.unknown_role", "role must be one of %(roles)s")
    DISPLAY_NAME = ("accounts.display_name", "display name must be 1 to 100 characters")
    LOGIN_TAKEN = ("accounts.login_taken", "an account with this login already exists")
    NO_SUCH_ACCOUNT = ("accounts.no_such_account", "account %(account)s does not exist")
    ROLE_REQUIRED = ("accounts.role_required", "this action needs the role %(roles)s; you are %(role)s")
    WRONG_CREDENTIALS = ("accounts.wrong_credentials", "the login or the password is wrong")
    TOO_MANY_ATTEMPTS = ("accounts.too_many_attempts",
                         "too many failed logins from this address; try again in %(seconds)s second(s)")
    CHALLENGE_REQUIRED = ("accounts.challenge_required",
                          "this login has had failed attempts: solve the login challenge (your browser does it by "
                          "itself in a few seconds) and log in again")
    CHALLENGE_USED = ("accounts.challenge_used", "this login challenge was already used; log in again")
    LOG_IN_FIRST = ("accounts.log_in_first",
                    "log in first: send 'Authorization: Bearer <token>' (POST /api/v1/auth/token)")
    PASSWORD_LENGTH = ("accounts.password_length", "password must be %(min)s to %(max)s characters long")
    PASSWORD_MIX = ("accounts.password_mix", "password must mix letters with digits or symbols")
    REFRESH_INVALID = ("accounts.refresh_invalid", "the refresh token is not valid or its session has ended; log in again")
    REFRESH_REUSED = ("accounts.refresh_reused",
                      "this refresh token was already used, so it may have been copied: its session is ended; "
                      "log in again")
    CSRF_REQUIRED = ("accounts.csrf_required",
                     "a request that changes something with the session cookie needs the page's X-CSRF-Token "
                     "header; API clients send 'Authorization: Bearer <token>' instead")
    WRONG_CURRENT_PASSWORD = ("accounts.wrong_current_password", "the current password is wrong")
    SAME_PASSWORD = ("accounts.same_password", "the new password must differ from the current one")

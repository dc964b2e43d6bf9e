"""Accounts: logins (phone or e-mail and an Argon2id password), their roles, and login protection.

Owns the ``accounts`` and ``login_throttles`` tables. Knows nothing of members, money or HTTP:
the members domain links insured people to an account; the HTTP layer turns a login into a token.
"""

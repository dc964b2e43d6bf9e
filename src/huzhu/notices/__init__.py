"""Notices: the public, anonymised case an approved claim becomes, its notice period, members'
objections and which cases are due for apportionment (how objections are resolved is ``casework``'s)."""

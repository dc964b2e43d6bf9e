"""The apportionment domain's error codes."""

from __future__ import annotations

from huzhu.errors import ErrorCode


class ApportionmentError(ErrorCode):
    NO_SUCH_RUN = ("apportionment.no_such_run", "run %(run)s does not exist")

"""Recording staff reads for both adapters: in a transaction of its own, before the data is sent.

If the record cannot be written the request fails and the data is not shown (the audit trail is
never behind what was read). A member reading their own data is not recorded.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request

from huzhu.accounts.models import Account
from huzhu.audit.models import Channel, ReadSubject
from huzhu.audit.service import needs_record, record_read
from huzhu.db import unit_of_work
from huzhu.platform import Platform


def record_staff_read(request: Request, account: Account, subject: ReadSubject, ids: Iterable[int], *,
                      channel: Channel = Channel.API) -> None:
    if not needs_record(account):
        return
    platform: Platform = request.app.state.platform
    with unit_of_work(platform.factory) as session:
        record_read(session, account=account, subject=subject, ids=ids, channel=channel, path=request.url.path,
                    now=platform.wall_clock.now())

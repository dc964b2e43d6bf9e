"""The sandbox: a settable business clock (stored in the database) for demos and tests. Only
built in sandbox mode; production has no way to move time."""

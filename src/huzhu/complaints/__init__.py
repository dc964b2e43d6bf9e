"""Complaints (投诉): a member writes to the platform, staff answer, the member closes it."""

"""Casework: the review decision and the objection procedure, between claims and public cases (see ``service``)."""

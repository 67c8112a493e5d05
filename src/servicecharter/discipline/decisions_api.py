"""Discipline API for decisions (sanctions and rewards), approvals and appeals."""

from ninja import Router

router = Router(tags=["discipline"])

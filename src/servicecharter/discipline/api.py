"""Discipline API."""

from ninja import Router

router = Router(tags=["discipline"])

"""Reads of the quality module, scoped to what the caller may see. A row outside the caller's
scope answers 404 exactly like one that does not exist.

The file is kept in blocks, one per concern, each under its own heading; a block is written
by one team and others append theirs at the end:

- Scorecards and evaluations (with per-employee results).
- (sampling plans and calibration; periodic reviews: appended below by their authors)
"""

# =============================================================================================
# Scorecards and evaluations
# =============================================================================================

"""Writes of the quality module, one transaction each, audited; facts other modules act on
leave as domain events stored in the same transaction.

The file is kept in blocks, one per concern, each under its own heading; a block is written
by one team and others append theirs at the end:

- Scorecards: create, draft a version (a copy of the latest), edit a draft, activate.
- Evaluations: assign, submit, acknowledge, dispute, decide a dispute.
- (sampling plans and calibration; periodic reviews: appended below by their authors)
"""

# =============================================================================================
# Scorecards and evaluations
# =============================================================================================

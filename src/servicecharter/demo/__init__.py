"""Demo data: a realistic, deterministic institution for `charter seed` and `charter demo`.

Generators (names, identity, institution, customers) are plain functions of a ``random.Random``;
``services.institution_seed`` writes what they produce in one transaction.
"""

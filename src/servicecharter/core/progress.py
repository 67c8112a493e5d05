"""How far long work has got, for the page that shows it.

Work that runs inside one transaction (an import writing as it reads) cannot show its progress
in a database row: the row would stay unchanged for everyone else until the end. So progress
goes to the cache, which every process of the installation shares (a file cache by default,
see settings ``CACHES``), under a token of the work's own.
"""

from django.core.cache import cache

# Long enough for the longest import; the entry is dropped when the work ends.
TIMEOUT_SECONDS = 6 * 3600


def _key(token: str) -> str:
    return f"progress:{token}"


def progress_set(token: str, *, done: int, percent: int) -> None:
    cache.set(_key(token), (done, min(max(percent, 0), 100)), TIMEOUT_SECONDS)


def progress_get(token: str) -> tuple[int, int] | None:
    """(items done, percent) or None when nothing was reported."""
    return cache.get(_key(token))


def progress_clear(token: str) -> None:
    cache.delete(_key(token))

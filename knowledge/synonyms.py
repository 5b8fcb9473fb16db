"""Query expansion with the everyday words citizens use for the KB's terms (knowledge/synonyms.yml).

"房本上加名字" is searched as "房本上加名字 不动产权证书": the citizen's word still matches the
phrasings that use it, and the term reaches the entries written in official language. Data, not
code: a centre extends the file with its own local names.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

SYNONYMS = Path(__file__).with_name("synonyms.yml")


@lru_cache(maxsize=4)
def table(path: Path = SYNONYMS) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(term, everyday words) pairs, longest words first within a term."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    pairs = []
    for term, words in (data.get("terms") or {}).items():
        pairs.append((str(term), tuple(sorted((str(w) for w in words), key=len, reverse=True))))
    return tuple(pairs)


def expand(query: str, path: Path = SYNONYMS) -> str:
    """`query` with the KB's term added for each everyday word it holds (and lacks the term)."""
    added = [
        term for term, words in table(path) if term not in query and any(w in query for w in words)
    ]
    return f"{query} {' '.join(added)}" if added else query

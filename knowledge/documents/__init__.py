"""Documents and retrieval: loaders, heading-aware chunking, Chroma + BM25 hybrid search with citations.

Entry points:

- ``KnowledgeBase(home, *, chroma_url=None, embedding_model=None)``: ``search`` / ``search_results``
  (payer and date-of-service filters), ``get_passage``, ``add`` (the practice's files), ``remove``,
  ``list``, ``add_guidance`` (code-set guidance passages).
- ``build_shipped_index(kb, *, codesets=None, cache_dir=None, progress=None)`` for `billing-assistant init`.
"""

from knowledge.documents.knowledge_base import KnowledgeBase, build_shipped_index, load_guidance_codesets
from knowledge.documents.models import DocumentInfo, IngestReport, KnowledgeResults, Passage

__all__ = [
    "DocumentInfo",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeResults",
    "Passage",
    "build_shipped_index",
    "load_guidance_codesets",
]

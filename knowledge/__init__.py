"""The data layer: code sets, documents and retrieval, the practice database and X12 exchange.

Nothing here imports from ``tools``, ``assistant`` or ``integrations``.
"""

"""The tools the agent can call: one module per tool, each a plain typed function.

Ordinary parameters are what the model supplies; keyword-only parameters are context the server binds
(database session, practice, user, code sets, knowledge base). See CONTRIBUTING.md.
"""

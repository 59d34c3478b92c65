"""Code-set fixtures (built once per checkout into .test-cache/codesets)."""

from tests.codeset_fixtures import codesets, codesets_cache_dir, codesets_with_ncci, home_cache

__all__ = ["codesets", "codesets_cache_dir", "codesets_with_ncci", "home_cache"]

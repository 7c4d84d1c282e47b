"""One TLS context per process for every client of this app (the API, the event streams, the probes, the
storage connections): building one loads the whole CA bundle (~50 ms on an idle machine, over a second
on a loaded one), and a send or a receive opens several clients. SSLContext is safe to share between
connections and threads. The context follows httpx's rules (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), so
it is built again when those variables change."""

from __future__ import annotations

import functools
import os
import ssl

import httpx


def tls_context() -> ssl.SSLContext:
    return _context_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    del cert_file, cert_dir  # the cache key: httpx reads them from the environment itself
    return httpx.create_ssl_context()

"""fpcredit — family-planning credit information platform (计生信用信息平台)."""

import os

# Polars allocates through jemalloc, which by default keeps freed pages for ten seconds and
# returns them only when it next allocates: a batch job's passes over a province each leave
# gigabytes resident that nothing uses. A background thread returning them after a second
# keeps the process's memory near what it holds. Read once, when Polars first allocates, so
# it is set before anything imports Polars; an operator's own setting wins.
os.environ.setdefault(
    "_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"
)

from fpcredit.config import Settings
from fpcredit.errors import (
    ConfigError,
    CryptoError,
    FeedError,
    FpcreditError,
    InvalidIdNumber,
    StandardError,
    StoreError,
)

__all__ = [
    "ConfigError",
    "CryptoError",
    "FeedError",
    "FpcreditError",
    "InvalidIdNumber",
    "Settings",
    "StandardError",
    "StoreError",
    "__version__",
]
__version__ = "0.1.0"

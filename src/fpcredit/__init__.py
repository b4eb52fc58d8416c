"""fpcredit — family-planning credit information platform (计生信用信息平台)."""

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

"""Privacy lifecycle: retention per artefact (:func:`apply_all_retention`) and erasure of one
account's personal data everywhere (:func:`erase_account`). See docs/security.md."""

from detector.privacy.erase import erase_account, pseudonym
from detector.privacy.retention import apply_all_retention

__all__ = ["apply_all_retention", "erase_account", "pseudonym"]

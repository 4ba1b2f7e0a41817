"""Source ids old and new: the v3 id, and the backend id the legacy SIM set-up asks for.

SailPoint's SIM guide says to take each source's "backend ID" from the private ``/cc/api/source/list``
(its ``externalId``). That value is normally the v3 source id itself; the private list also has a
short numeric id of its own. `SourceIdMap` joins the two lists so either id leads to the other.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ._models import LegacySource, Source

__all__ = ["SourceIdMap", "SourceIds"]


@attrs.frozen
class SourceIds:
    """The ids of one source.

    Attributes:
        source_id: the v3 source id.
        name: the source name.
        backend_id: the ``externalId`` of the private source list, if the source is on it.
        legacy_id: the short numeric id of the private source list, if the source is on it.
    """

    source_id: str
    name: str
    backend_id: str | None = None
    legacy_id: str | None = None


@attrs.frozen
class SourceIdMap:
    """Every source's v3 id, backend id and legacy id, looked up either way.

    Attributes:
        entries: one entry per v3 source.
    """

    entries: tuple[SourceIds, ...]

    @classmethod
    def build(cls, sources: Iterable[Source], legacy: Iterable[LegacySource]) -> SourceIdMap:
        """Join v3 sources with the private list: ``externalId == id`` first, then the same name."""
        legacy_entries = tuple(legacy)
        by_external = {entry.external_id: entry for entry in legacy_entries if entry.external_id}
        by_name = {entry.name.casefold(): entry for entry in legacy_entries if entry.name}
        entries = []
        for source in sources:
            match = by_external.get(source.id) or by_name.get(source.name.casefold())
            entries.append(
                SourceIds(
                    source_id=source.id,
                    name=source.name,
                    backend_id=match.external_id if match else None,
                    legacy_id=match.id if match else None,
                )
            )
        return cls(tuple(entries))

    def backend_id(self, source_id: str) -> str | None:
        """The backend id (``externalId``) of the source with this v3 id, or ``None``."""
        return next((e.backend_id for e in self.entries if e.source_id == source_id), None)

    def source_id(self, backend_or_legacy_id: str) -> str | None:
        """The v3 id of the source with this backend id (or short legacy id), or ``None``."""
        for entry in self.entries:
            if backend_or_legacy_id in (entry.backend_id, entry.legacy_id):
                return entry.source_id
        return None

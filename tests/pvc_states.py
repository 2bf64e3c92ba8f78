"""A PVC put straight into a status, for tests about what comes after it (a completed PVC's voices,
retrains, exports). Product code moves PVCs only through `provoice.pvc.transitions`, whose own tests
drive the real transitions."""

from __future__ import annotations

from sqlalchemy import update

from provoice.catalog import Catalog, Pvc
from provoice.catalog.models import utcnow
from provoice.pvc.service import get_pvc
from provoice.pvc.status import PvcStatus


def set_status(catalog: Catalog, pvc_id: str, status: PvcStatus, **fields) -> Pvc:
    """The PVC with `status` and `fields` written as they are: no hold, charge or notification."""
    with catalog.session() as s:
        s.execute(
            update(Pvc)
            .where(Pvc.id == pvc_id)
            .values(
                status=status, step=None, lease_expires_at=None, updated_at=utcnow(), finished_at=utcnow(), **fields
            )
        )
    return get_pvc(catalog, pvc_id)

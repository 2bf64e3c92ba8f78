"""Names of the `provoice.*` events and the resources they are about; shared by the flows that emit
them, the API that forwards bucket uploads and the deployments whose triggers match them."""

from __future__ import annotations

FILES_UPLOADED = "provoice.dataset.files-uploaded"
DATASET_PREPARED = "provoice.dataset.prepared"
PVC_FAILED = "provoice.pvc.failed"
PVC_RETRAINED = "provoice.pvc.retrained"
BASE_MODEL_REGISTERED = "provoice.base-model.registered"

# `files-uploaded` is said twice about one upload: by the bucket forwarder when objects land under a
# dataset's prefix (stage "bucket": not in the catalog yet, `ingest-upload` reacts), and by ingest
# once they are dataset files (stage "ingested": `prepare-dataset` reacts).
UPLOAD_STAGE = "provoice.upload-stage"
STAGE_BUCKET = "bucket"
STAGE_INGESTED = "ingested"


def resource_id(kind: str, object_id: str) -> str:
    return f"provoice.{kind}.{object_id}"


def id_label(kind: str) -> str:
    """The resource label holding the object's own id, e.g. `provoice.dataset-id`."""
    return f"provoice.{kind}-id"


def resource(kind: str, object_id: str, **labels: str) -> dict[str, str]:
    """A Prefect event resource: its id plus the object's id as a label that triggers can template."""
    return {"prefect.resource.id": resource_id(kind, object_id), id_label(kind): object_id, **labels}

"""kopf handlers for CheckpointRestore. Thin: build the flow for the object and run it. Importing this module
registers them (the operator's lifecycle, memo["runtime"], comes from handlers.py).

Only Preview restores leave something behind (a branch and a Secret), so only they get a finalizer:
kopf adds one for objects matched by a non-optional delete handler, and `when` limits that to Previews.
"""

from __future__ import annotations

from typing import Any

import kopf

from neon_checkpoints.resources import CHECKPOINT_RESTORES, GROUP, VERSION
from neon_checkpoints.restore_flow import RestoreFlow


def _is_preview(spec: kopf.Spec, **_: Any) -> bool:
    return spec.get("mode") == "Preview"


@kopf.on.create(GROUP, VERSION, CHECKPOINT_RESTORES)
async def create_restore(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await RestoreFlow(memo["runtime"], body, logger).create()


@kopf.on.delete(GROUP, VERSION, CHECKPOINT_RESTORES, when=_is_preview)
async def delete_restore(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await RestoreFlow(memo["runtime"], body, logger).delete()

"""Routes of the files service: parse, authorize, call a use case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from services.files import repository, service
from services.files.schemas import FileMetadataCreate, FileOut
from shared.auth_deps import TenantPrincipal, actor_of, require_menu
from shared.errors import not_found, problem_responses
from shared.permissions import FILES, Access
from shared.service_app import Runtime, runtime
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("files"), tags=["files"])
Rt = Annotated[Runtime, Depends(runtime)]
# Files carry no 事業所 yet: the files menu alone decides (the 事業所 filter comes with uploads).
CanRead = Annotated[Access, Depends(require_menu(FILES, "read"))]
CanWrite = Annotated[Access, Depends(require_menu(FILES, "write"))]

PROBLEMS = problem_responses(401, 403, 404, 422)


@router.post("/files/metadata", status_code=status.HTTP_201_CREATED, response_model=FileOut, responses=PROBLEMS)
def register_metadata(body: FileMetadataCreate, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
                      response: Response) -> FileOut:
    """Register a file's metadata (name, type, size, SHA-256). The bytes come with the upload slice."""
    with rt.transaction() as session:
        stored = service.register_metadata(session, access.tenant_id, body, actor_of(p, request))
        out = FileOut.model_validate(stored)
    response.headers["Location"] = f"{router.prefix}/files/{out.id}"
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/files/{file_id}", response_model=FileOut, responses=PROBLEMS)
def get_file(file_id: str, access: CanRead, rt: Rt, response: Response) -> FileOut:
    with rt.db.sessions() as session:
        # Scoped by tenant: another tenant's id is indistinguishable from a missing one (404).
        stored = repository.file_in_tenant(session, access.tenant_id, file_id)
        if stored is None:
            raise not_found()
        response.headers["ETag"] = f'"{stored.version}"'
        return FileOut.model_validate(stored)

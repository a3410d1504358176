"""Which media types and sizes each route takes at the gateway, with the default settings."""

import pytest

from gateway.body import BodyPolicy
from gateway.settings import GatewaySettings
from shared.errors import ProblemError


def test_csv_import_is_an_upload_but_csv_elsewhere_is_refused():
    policy = BodyPolicy(GatewaySettings())
    for path in ("/api/v1/koyo-hoken/insured-persons/import", "/api/v1/koyo-hoken/wage-records/import",
                 "/api/v1/jimukumiai/wages/import"):
        assert policy.limit_for(path, "text/csv") > 100 * 1024 * 1024
    with pytest.raises(ProblemError) as refused:
        policy.limit_for("/api/v1/koyo-hoken/insured-persons", "text/csv")
    assert refused.value.status == 415
    assert policy.limit_for("/api/v1/koyo-hoken/insured-persons", "application/json") == 1024 * 1024


def test_the_office_certificate_upload_is_multipart_at_the_gateway():
    # POST /certificates and PUT /certificates/{id} take the PKCS#12 file as multipart (docs/efiling.md);
    # before, the gateway answered 415 and no office certificate could be uploaded through it.
    policy = BodyPolicy(GatewaySettings())
    for path in ("/api/v1/efiling/certificates", "/api/v1/efiling/certificates/2f0c6f1e-9d1b-4c57-a1c5-4f3b1d2e8a90"):
        assert policy.limit_for(path, "multipart/form-data") > 0
    with pytest.raises(ProblemError) as refused:
        policy.limit_for("/api/v1/efiling/filings", "multipart/form-data")
    assert refused.value.status == 415

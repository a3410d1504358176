"""The sandbox's stand-in for GPKI: a demo CA (「デモ官職認証局」, as in e-Gov's old test data,
EGOV-XML.md §5) and an official's certificate, made at start-up, that sign the 公文書 it issues."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from shared import xmldsig

XSL = b"""<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:template match="/"><html><body><h1><xsl:value-of select="DOC/BODY/TITLE"/></h1>
<xsl:for-each select="DOC/BODY/MAINTXT/P"><p><xsl:value-of select="."/></p></xsl:for-each></body></html>
</xsl:template></xsl:stylesheet>
"""


@dataclass(frozen=True)
class Officials:
    ca_cert: x509.Certificate
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def ca_pem(self) -> bytes:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)


def _name(ou: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Japanese Government"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou)])


def make_officials() -> Officials:
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name("DemoOfficialStatusCA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
          .not_valid_after(now + timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder().subject_name(_name("公共職業安定所長 (sandbox)")).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=825))
            .sign(ca_key, hashes.SHA256()))
    return Officials(ca, key, cert)


def official_document(officials: Officials, *, arrive_id: str, title: str, to_corporation: str, to_name: str,
                      proc_name: str, issued: str, signed: bool = True) -> tuple[bytes, list[str]]:
    """A 公文書 ZIP in the legacy sample's shape: DOC / BODY ID="DOCBODY", the signature last in DOC,
    and the XSL beside it. Returns (zip bytes, file names)."""
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<?xml-stylesheet type="text/xsl" href="comment_doc.xsl"?>\n'
        '<DOC VERSION="1.0"><FRONT><SECRECY/><STAMP/><MNGINFO TYPE="1"/></FRONT>'
        '<BODY ID="DOCBODY"><STYLESHEET URI="comment_doc.xsl"/>'
        f"<DOCNO>{escape(arrive_id)}</DOCNO><DATE TYPE=\"1\">{escape(issued)}</DATE>"
        f"<TO><AFF>{escape(to_corporation)}</AFF><NAME>{escape(to_name)}</NAME><HONORIFC>様</HONORIFC></TO>"
        "<AUTHOR><AFF>厚生労働省</AFF><NAME>公共職業安定所長</NAME></AUTHOR>"
        f"<TITLE>{escape(title)}</TITLE>"
        f"<MAINTXT><P LEVEL=\"1\">到達番号 {escape(arrive_id)} の「{escape(proc_name)}」について、"
        "手続が終了しました。</P></MAINTXT></BODY></DOC>"
    ).encode()
    if signed:
        doc = xmldsig.sign_enveloped(doc, "DOCBODY", officials.key, [officials.cert, officials.ca_cert])
    names = ["comment_doc1.xml", "comment_doc.xsl"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(names[0], doc)
        zf.writestr(names[1], XSL)
    return buf.getvalue(), names

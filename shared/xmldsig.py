"""XML signatures in the two layouts e-Gov uses (EGOV-XML.md §2, §5), with lxml and cryptography.

* **kousei.xml** (what an applicant signs): `<署名情報>` after `<構成情報>` holds one `<Signature>`
  (default xmldsig namespace, `Id` = yyyyMMddHHmmss) with Reference `#構成情報` (percent-encoded,
  one C14N 1.0 Transform, SHA-256 over the canonical element) and one Reference per 申請書 file
  (bare file name, no Transforms, SHA-256 over the raw bytes); RSA-SHA256 over the C14N 1.0 of
  SignedInfo; KeyInfo/X509Data/X509Certificate = the signer's DER certificate. No
  enveloped-signature transform: the signature sits outside the signed element.
* **公文書** (what an official signs): `<Signature>` as the last child of `DOC`, one Reference
  `#DOCBODY` with the enveloped-signature transform, C14N 1.0 *with comments*, RSA-SHA256, two
  X509Certificate elements (the official's and the issuing CA's).

Both are taken from third-party clients that passed e-Gov's tests, not from the official
共通データ仕様 (not public): see docs/efiling.md for what stays unconfirmed. Verification here checks
the digests and the RSA signature against the embedded certificate (integrity); whether that
certificate chains to GPKI is e-Gov's `/official_document/verify` to answer."""

from __future__ import annotations

import base64
import hashlib
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

DSIG = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_COMMENTS = C14N + "#WithComments"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
KOUSEI_ID = "構成情報"
# The Reference to 構成情報 as e-Gov's samples write it: the fragment percent-encoded in UTF-8
# (EGOV-XML.md §2). Verification takes either spelling (the fragment is percent-decoded).
KOUSEI_URI = "#" + quote(KOUSEI_ID)

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False)


class SignatureError(Exception):
    """A signature that is missing, malformed or does not verify."""


@dataclass(frozen=True)
class Verified:
    """What a verified signature says about its signer (for records, not for trust)."""

    subject: str
    issuer: str
    serial_number: str
    not_before: str
    not_after: str
    certificate_count: int

    @property
    def not_before_at(self) -> datetime:
        return datetime.fromisoformat(self.not_before)

    @property
    def not_after_at(self) -> datetime:
        return datetime.fromisoformat(self.not_after)


def parse(data: bytes) -> etree._Element:
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SignatureError(f"XML として読めません: {exc}") from exc


def serialize(root: etree._Element) -> bytes:
    """The whole document, keeping processing instructions before the root (xml-stylesheet)."""
    out: bytes = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
    return out


def _q(tag: str) -> str:
    return f"{{{DSIG}}}{tag}"


XML_NS = "http://www.w3.org/XML/1998/namespace"


def _detached(el: etree._Element) -> etree._Element:
    """`el` as the root of a document of its own, carrying what inclusive C14N 1.0 gives a
    document subset's apex: every namespace in scope (el.nsmap includes the inherited ones) and the
    xml:* attributes it inherits (nearest ancestor wins)."""
    attrib = dict(el.attrib)
    for anc in el.iterancestors():
        for name, value in anc.attrib.items():
            if name.startswith(f"{{{XML_NS}}}"):
                attrib.setdefault(name, value)
    apex = etree.Element(el.tag, attrib, nsmap=el.nsmap)
    apex.text = el.text
    for child in el:
        apex.append(deepcopy(child))
    # Re-parse: the copy then holds its own namespace declarations, none borrowed from the tree.
    return etree.fromstring(etree.tostring(apex, encoding="UTF-8"), _PARSER)


def _c14n(el: etree._Element, with_comments: bool = False) -> bytes:
    """Inclusive C14N 1.0 of the subtree at `el`.

    Not `etree.tostring(el, method="c14n")` on the element in place: lxml canonicalises a subtree
    through a fake root document, and children whose default namespace is declared on an ancestor
    outside the subtree (SignedInfo's children, declared on Signature) come out with `xmlns=""` —
    a canonical form no other XMLDSig implementation produces, so every signature we made was
    invalid elsewhere (issue 19). A detached copy has the declarations in the subtree itself."""
    out: bytes = etree.tostring(_detached(el).getroottree(), method="c14n", exclusive=False,
                                with_comments=with_comments)
    return out


def _digest(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _by_id(root: etree._Element, ident: str) -> etree._Element:
    for el in root.iter():
        if isinstance(el.tag, str) and (el.get("ID") == ident or el.get("Id") == ident):
            return el
    raise SignatureError(f"参照先 #{ident} が見つかりません")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, _q(tag), attrs)
    if text is not None:
        el.text = text
    return el


def _reference(signed_info: etree._Element, uri: str, digest: str, transforms: list[str]) -> None:
    ref = _sub(signed_info, "Reference", URI=uri)
    if transforms:
        tr = _sub(ref, "Transforms")
        for t in transforms:
            _sub(tr, "Transform", Algorithm=t)
    _sub(ref, "DigestMethod", Algorithm=SHA256)
    _sub(ref, "DigestValue", digest)


def _finish(sig: etree._Element, signed_info: etree._Element, key: rsa.RSAPrivateKey,
            certs: list[x509.Certificate], with_comments: bool) -> None:
    value = key.sign(_c14n(signed_info, with_comments), padding.PKCS1v15(), hashes.SHA256())
    _sub(sig, "SignatureValue", base64.b64encode(value).decode())
    data = _sub(_sub(sig, "KeyInfo"), "X509Data")
    for cert in certs:
        _sub(data, "X509Certificate", base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode())


def sign_kousei(kousei: bytes, files: dict[str, bytes], key: rsa.RSAPrivateKey, cert: x509.Certificate,
                signature_id: str) -> bytes:
    """Sign kousei.xml over `#構成情報` and the 申請書 files named (raw bytes). `署名情報` is
    created after `構成情報` when missing; a second signer (連署) adds another Signature to it."""
    root = parse(kousei)
    target = _by_id(root, KOUSEI_ID)
    holder = root.find("署名情報")
    if holder is None:
        holder = etree.Element("署名情報")
        target.addnext(holder)
    sig = etree.SubElement(holder, _q("Signature"), {"Id": signature_id}, nsmap={None: DSIG})
    signed_info = _sub(sig, "SignedInfo")
    _sub(signed_info, "CanonicalizationMethod", Algorithm=C14N)
    _sub(signed_info, "SignatureMethod", Algorithm=RSA_SHA256)
    _reference(signed_info, KOUSEI_URI, _digest(_c14n(target)), [C14N])
    for name, raw in files.items():
        _reference(signed_info, name, _digest(raw), [])
    _finish(sig, signed_info, key, [cert], with_comments=False)
    return serialize(root)


def sign_enveloped(doc: bytes, ref_id: str, key: rsa.RSAPrivateKey, certs: list[x509.Certificate]) -> bytes:
    """A 公文書-style signature: last child of the root, `#<ref_id>`, enveloped, C14N with comments."""
    root = parse(doc)
    target = _by_id(root, ref_id)
    sig = etree.SubElement(root, _q("Signature"), nsmap={None: DSIG})
    signed_info = _sub(sig, "SignedInfo")
    _sub(signed_info, "CanonicalizationMethod", Algorithm=C14N_COMMENTS)
    _sub(signed_info, "SignatureMethod", Algorithm=RSA_SHA256)
    # A same-document reference (#id) selects the element without its comments (XMLDSig §4.3.3.3);
    # only SignedInfo is canonicalised with comments, as its CanonicalizationMethod says.
    _reference(signed_info, f"#{ref_id}", _digest(_c14n(target)), [ENVELOPED])
    _finish(sig, signed_info, key, certs, with_comments=True)
    return serialize(root)


def _certificates(sig: etree._Element) -> list[x509.Certificate]:
    certs = []
    for el in sig.iterfind(f"{_q('KeyInfo')}/{_q('X509Data')}/{_q('X509Certificate')}"):
        try:
            certs.append(x509.load_der_x509_certificate(base64.b64decode("".join((el.text or "").split()))))
        except ValueError as exc:
            raise SignatureError("X509Certificate が読めません") from exc
    if not certs:
        raise SignatureError("署名者の証明書 (X509Certificate) がありません")
    return certs


def _check_signature(sig: etree._Element, files: dict[str, bytes] | None) -> Verified:
    signed_info = sig.find(_q("SignedInfo"))
    if signed_info is None:
        raise SignatureError("SignedInfo がありません")
    c14n_el = signed_info.find(_q("CanonicalizationMethod"))
    method = c14n_el.get("Algorithm") if c14n_el is not None else None
    if method not in (C14N, C14N_COMMENTS):
        raise SignatureError(f"未対応の正規化方式: {method}")
    sm = signed_info.find(_q("SignatureMethod"))
    if sm is None or sm.get("Algorithm") != RSA_SHA256:
        raise SignatureError("署名方式は rsa-sha256 のみ対応しています")
    root = sig.getroottree().getroot()
    refs = signed_info.findall(_q("Reference"))
    if not refs:
        raise SignatureError("Reference がありません")
    for ref in refs:
        uri = ref.get("URI") or ""
        dm = ref.find(_q("DigestMethod"))
        if dm is None or dm.get("Algorithm") != SHA256:
            raise SignatureError(f"{uri}: ダイジェスト方式は sha256 のみ対応しています")
        transforms = [t.get("Algorithm") for t in ref.iterfind(f"{_q('Transforms')}/{_q('Transform')}")]
        if uri.startswith("#"):
            target = _by_id(root, unquote(uri[1:]))
            # "#id" selects the element without comments unless a WithComments transform says otherwise
            with_comments = C14N_COMMENTS in transforms
            if ENVELOPED in transforms and any(el is sig for el in target.iter()):
                # enveloped-signature: digest the element as it was before the signature went in
                parent, index = sig.getparent(), None
                assert parent is not None
                index = parent.index(sig)
                tail = sig.tail
                parent.remove(sig)
                try:
                    data = _c14n(target, with_comments)
                finally:
                    parent.insert(index, sig)
                    sig.tail = tail
            else:
                data = _c14n(target, with_comments)
        else:
            if files is None or uri not in files:
                raise SignatureError(f"参照先ファイル {uri} がありません")
            data = files[uri]
        if (ref.findtext(_q("DigestValue")) or "").strip() != _digest(data):
            raise SignatureError(f"{unquote(uri)}: ダイジェスト値が一致しません (改ざんの可能性)")
    certs = _certificates(sig)
    value = base64.b64decode("".join((sig.findtext(_q("SignatureValue")) or "").split()))
    public = certs[0].public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise SignatureError("RSA 以外の鍵は未対応です")
    try:
        public.verify(value, _c14n(signed_info, method == C14N_COMMENTS), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise SignatureError("署名値が一致しません") from exc
    c = certs[0]
    return Verified(subject=c.subject.rfc4514_string(), issuer=c.issuer.rfc4514_string(),
                    serial_number=format(c.serial_number, "x"),
                    not_before=c.not_valid_before_utc.isoformat(), not_after=c.not_valid_after_utc.isoformat(),
                    certificate_count=len(certs))


def signatures(root: etree._Element) -> list[etree._Element]:
    return list(root.iter(_q("Signature")))


def verify_kousei(kousei: bytes, files: dict[str, bytes]) -> list[Verified]:
    """Every Signature in kousei.xml, checked; [] when it carries none (an unsigned package)."""
    return [_check_signature(s, files) for s in signatures(parse(kousei))]


def verify_enveloped(doc: bytes) -> Verified:
    found = signatures(parse(doc))
    if not found:
        raise SignatureError("署名がありません")
    return _check_signature(found[-1], None)

"""Pure rules of the files service against crafted samples: extensions, magic bytes (OOXML vs ZIP,
Word vs Excel in OLE), ZIP inspection, names and Content-Disposition."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from services.files.rules import magic
from services.files.rules.extensions import ALLOWED, allowed_extension, extension_of
from services.files.rules.names import content_disposition, parse_content_disposition_name, upload_name
from services.files.rules.zipcheck import ZipLimits, ZipRefused, declared_entries, inspect_zip
from tests.files import samples


@pytest.mark.parametrize("name", ["a.doc", "a.DOCX", "a.Xls", "a.xlsx", "a.jpg", "a.JPEG", "a.gif", "a.png",
                                  "a.PDF", "a.zip", "資格取得届.pdf"])
def test_allowlist_case_insensitive(name):
    assert allowed_extension(name) == extension_of(name)


@pytest.mark.parametrize("name", ["a.exe", "a.pdf.exe", "a.html", "a.svg", "a.txt", "pdf", ".pdf", "a.", "a.docm",
                                  "a.xlsm", "a.tif", "a.7z"])
def test_anything_else_refused(name):
    assert allowed_extension(name) is None


def test_the_allowlist_is_exactly_the_sheet():
    assert sorted(ALLOWED) == sorted(["doc", "docx", "xls", "xlsx", "jpg", "jpeg", "gif", "png", "pdf", "zip"])


@pytest.mark.parametrize(("ext", "data"), [
    ("pdf", samples.PDF), ("png", samples.PNG), ("jpg", samples.JPEG), ("jpeg", samples.JPEG),
    ("gif", samples.GIF), ("zip", samples.zip_bytes({"a.pdf": samples.PDF})), ("docx", samples.docx()),
    ("xlsx", samples.xlsx()), ("doc", samples.doc()), ("xls", samples.xls()),
])
def test_heads_match_their_extension(ext, data):
    assert magic.head_matches(ext, data[:magic.HEAD_BYTES])


@pytest.mark.parametrize(("ext", "data"), [
    ("pdf", samples.EXE), ("pdf", samples.PNG), ("png", samples.JPEG), ("jpg", samples.GIF),
    ("gif", b"GIF90a...."), ("zip", samples.PDF), ("docx", samples.doc()), ("doc", samples.docx()),
    ("pdf", b"  %PDF-1.7"), ("png", b""),
])
def test_heads_that_do_not_match(ext, data):
    assert not magic.head_matches(ext, data[:magic.HEAD_BYTES])


def test_ooxml_is_told_apart_from_zip():
    def names(data: bytes) -> list[str]:
        return zipfile.ZipFile(io.BytesIO(data)).namelist()

    assert magic.ooxml_kind(names(samples.docx())) == "docx"
    assert magic.ooxml_kind(names(samples.xlsx())) == "xlsx"
    assert magic.ooxml_kind(names(samples.zip_bytes({"a.pdf": samples.PDF}))) == "zip"
    # A folder named word/ without [Content_Types].xml is just a ZIP.
    assert magic.ooxml_kind(names(samples.zip_bytes({"word/a.pdf": samples.PDF}))) == "zip"
    assert inspect_zip(io.BytesIO(samples.docx()), allowlist=None).kind == "docx"


def test_word_and_excel_are_told_apart_in_ole_files():
    assert magic.ole_kind(io.BytesIO(samples.doc())) == "doc"
    assert magic.ole_kind(io.BytesIO(samples.xls())) == "xls"
    assert magic.ole_kind(io.BytesIO(samples.ole("PowerPoint Document"))) == "unknown"
    assert magic.ole_kind(io.BytesIO(samples.doc()[:600])) == "unknown"  # truncated
    assert magic.ole_kind(io.BytesIO(samples.PDF)) == "unknown"


def test_ole_directory_loop_ends():
    data = bytearray(samples.doc())
    # FAT entry of the directory sector (1) points back at itself.
    data[512 + 4:512 + 8] = (1).to_bytes(4, "little")
    assert magic.ole_kind(io.BytesIO(bytes(data))) == "unknown"  # the walk is cut, the file not trusted
    with pytest.raises(magic.OleError):
        magic.ole_stream_names(io.BytesIO(bytes(data)))


# --- ZIP -------------------------------------------------------------------------------------


DEFAULT_LIMITS = ZipLimits()


def refusal(data: bytes, limits: ZipLimits = DEFAULT_LIMITS) -> ZipRefused:
    with pytest.raises(ZipRefused) as info:
        inspect_zip(io.BytesIO(data), limits)
    return info.value


def test_a_plain_zip_of_allowed_files_passes():
    report = inspect_zip(io.BytesIO(samples.zip_bytes({"書類/a.pdf": samples.PDF, "b.png": samples.PNG,
                                                       "c.docx": samples.docx(), "folder/": b""})))
    assert report.members == 4 and report.kind == "zip"


def test_zip_bomb_by_ratio_is_refused_before_extraction():
    bomb = samples.zip_bytes({"a.pdf": b"%PDF-" + b"\x00" * (20 * 1024 * 1024)})
    assert len(bomb) < 100 * 1024
    r = refusal(bomb)
    assert r.reason == "ratio" and r.member == "a.pdf"


def test_zip_bomb_by_total_size_is_refused():
    rnd = random.Random(1)
    members = {f"{i}.pdf": b"%PDF-" + rnd.randbytes(100_000) for i in range(5)}
    r = refusal(samples.zip_bytes(members), ZipLimits(max_total_uncompressed=300_000))
    assert r.reason == "too-large-uncompressed"


def test_too_many_members_is_refused_from_the_end_record():
    data = samples.zip_bytes({f"{i}.pdf": samples.PDF for i in range(12)})
    assert declared_entries(io.BytesIO(data)) == 12
    assert refusal(data, ZipLimits(max_members=10)).reason == "too-many-members"


def test_overlapping_entries_are_refused():
    assert refusal(samples.overlapping_zip()).reason in ("overlap", "duplicate")


@pytest.mark.parametrize("name", ["../x.pdf", "a/../../x.pdf", "/etc/x.pdf", "C:/x.pdf", "..\\x.pdf",
                                  "a\\b.pdf", "a\x01.pdf", "a\u202efdp.exe"])
def test_paths_that_escape_are_refused(name):
    r = refusal(samples.zip_bytes({name: samples.PDF}, compression=zipfile.ZIP_STORED))
    assert r.reason == "path"


def test_members_must_be_on_the_allowlist():
    r = refusal(samples.zip_bytes({"ok.pdf": samples.PDF, "setup.exe": samples.EXE}))
    assert r.reason == "member-type" and r.member == "setup.exe"


def test_a_renamed_executable_inside_is_refused():
    r = refusal(samples.zip_bytes({"invoice.pdf": samples.EXE}))
    assert r.reason == "member-content" and r.member == "invoice.pdf"


def test_nesting_is_limited():
    inner = samples.zip_bytes({"a.pdf": samples.PDF})
    assert inspect_zip(io.BytesIO(samples.zip_bytes({"inner.zip": inner}))).members == 1
    twice = samples.zip_bytes({"outer.zip": samples.zip_bytes({"inner.zip": inner})})
    r = refusal(twice)
    assert r.reason == "nested" and r.member == "outer.zip/inner.zip"
    assert refusal(samples.zip_bytes({"inner.zip": inner}), ZipLimits(max_depth=0)).reason == "nested"
    bad_inner = samples.zip_bytes({"inner.zip": samples.zip_bytes({"../x.pdf": samples.PDF})})
    assert refusal(bad_inner).reason == "path"


def test_encrypted_members_and_symlinks_are_refused():
    assert refusal(samples.encrypted_flag(samples.zip_bytes({"a.pdf": samples.PDF}))).reason == "encrypted"
    assert refusal(samples.symlink_zip()).reason == "symlink"


def test_garbage_is_corrupt():
    assert refusal(b"PK\x03\x04" + b"\x00" * 100).reason == "corrupt"


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["a\x00.pdf", "a\nb.pdf", "a\tb.pdf", "a\x7f.pdf", "請求書\u202efdp.exe",
                                 "a\u200b.pdf"])
def test_upload_names_with_control_characters_are_refused(raw):
    with pytest.raises(ValueError, match="制御文字"):
        upload_name(raw)


def test_upload_name_sanitises_the_rest():
    assert upload_name("C:\\Users\\sato\\資格取得届.PDF") == "資格取得届.PDF"


def test_content_disposition_carries_japanese_names_in_rfc5987_form():
    header = content_disposition("資格取得届 2026年4月.pdf")
    assert header == ("attachment; filename=\"_____ 2026_4_.pdf\"; "
                      "filename*=UTF-8''%E8%B3%87%E6%A0%BC%E5%8F%96%E5%BE%97%E5%B1%8A%202026%E5%B9%B44%E6%9C%88.pdf")
    assert parse_content_disposition_name(header) == "資格取得届 2026年4月.pdf"
    assert parse_content_disposition_name('attachment; filename="a \\"b\\".pdf"') == 'a "b".pdf'
    assert parse_content_disposition_name("attachment") is None
    with pytest.raises(ValueError):
        parse_content_disposition_name("attachment; filename*=UTF-8''%FF%FE.pdf")

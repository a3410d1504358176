"""shared.logging.redact: what a log record or an audit entry may carry."""

from shared.logging import REDACTED, redact


def test_secret_keys_are_redacted_at_any_depth_and_my_numbers_in_text_masked():
    value = {"password": "p", "Refresh_Token": "t", "nested": {"my_number": "123456789018", "ok": "x"},
             "items": [{"totp_secret": "s"}, "番号 1234-5678-9018 です"], 7: "a 123456789018 b",
             "procedure_id": "950A010002012000123456", "count": 3}
    out = redact(value)
    assert out["password"] == REDACTED and out["Refresh_Token"] == REDACTED
    assert out["nested"] == {"my_number": REDACTED, "ok": "x"}
    assert out["items"] == [{"totp_secret": REDACTED}, "番号 ************ です"]
    assert out[7] == "a ************ b"  # a non-string key is checked as text
    assert out["procedure_id"] == "950A010002012000123456"  # 12 digits inside an id survive
    assert out["count"] == 3
    assert value["password"] == "p"  # a copy: the original is left alone
    # The same keys again (decided once and remembered): the same answers.
    assert redact({"password": "q", "ok": "y"}) == {"password": REDACTED, "ok": "y"}

import pytest

from app.errors import ValidationError
from app.validation import normalize_currency, normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-0142", "US", "+14155550142"),
        ("+44 20 7946 0018", "US", "+442079460018"),
        ("020 7946 0018", "GB", "+442079460018"),
        (" 415.555.0142 ", "US", "+14155550142"),
    ],
)
def test_phones_are_stored_in_e164(raw, region, expected):
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["12", "not a phone", "+1 555"])
def test_bad_phones_get_a_clear_message(raw):
    with pytest.raises(ValidationError, match="Phone"):
        normalize_phone(raw)


def test_emails_are_validated_and_lowercased():
    assert normalize_email(" Rita.Moreno@Acme.EXAMPLE ") == "rita.moreno@acme.example"
    with pytest.raises(ValidationError, match="'rita@' is not a valid email"):
        normalize_email("rita@")


def test_currency_codes_are_checked():
    assert normalize_currency(" eur ") == "EUR"
    with pytest.raises(ValidationError, match="ISO 4217"):
        normalize_currency("EURO")

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


def _email_validator_answer(text: str) -> str | None:
    """What the slow path (email_validator alone) says: the normalised address, or None if refused."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(text.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def _email_corpus() -> list[str]:
    import random
    import string

    tricky = [
        "rita@acme.example",
        "Rita.Moreno@Acme.EXAMPLE",
        "a@b.co",
        "a@b.c",
        "a@b",
        "a@b.c0",
        "a@b.123",
        "a@1.com",
        "a@-acme.com",
        "a@acme-.com",
        "a@ac--me.com",
        "a@xn--bcher-kva.com",
        "a@xn--abc.com",
        "a@ab--cd.com",
        "a@acme..com",
        "a@.acme.com",
        "a@acme.com.",
        ".a@acme.com",
        "a.@acme.com",
        "a..b@acme.com",
        "a.b.c@acme.com",
        "o'brien@acme.com",
        "a+tag@acme.com",
        "!#$%&'*+-/=?^_`{|}~@acme.com",
        "a b@acme.com",
        '"a b"@acme.com',
        '"ab"@acme.com',
        "a@acme.com (comment)",
        "Rita <rita@acme.com>",
        "a@@acme.com",
        "a@b@acme.com",
        "@acme.com",
        "a@",
        "",
        "a@localhost",
        "a@x.localhost",
        "a@acme.local",
        "a@acme.test",
        "a@acme.TEST",
        "a@acme.invalid",
        "a@acme.onion",
        "a@1.2.3.4.in-addr.arpa",
        "a@ARPA.com",
        "a@acme.example",
        "a@example.com",
        "a@[192.0.2.1]",
        "a@acme.com\n",
        "ré@acme.com",
        "a@bücher.com",
        "a@acme.c\u00f6m",
        "ａ@acme.com",
        "a@acme\uff0ecom",
        "postmaster@acme.com",
        "Info@Acme.com",
        "x" * 64 + "@acme.com",
        "x" * 65 + "@acme.com",
        "a@" + "b" * 63 + ".com",
        "a@" + "b" * 64 + ".com",
        "a@" + ".".join(["b" * 63] * 3) + "." + "c" * 61,
        "a@" + ".".join(["b" * 63] * 3) + "." + "c" * 62,
        "x" * 64 + "@" + ".".join(["b" * 60] * 3) + ".com",
        "a@acme.co\u200b",
        "a\u0000@acme.com",
        "a@acme_corp.com",
        "a@acme.c_m",
        "a@acme.com-",
        "a@acme.-com",
        "a@acme.co-m",
    ]
    rng = random.Random(11)
    alphabet = string.ascii_letters + string.digits + ".-_+'@!#" + "..--" + "é "
    generated = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(4000)]
    shaped = [
        "".join(rng.choice(string.ascii_letters + ".-_+") for _ in range(rng.randint(0, 12)))
        + "@"
        + ".".join(
            "".join(rng.choice(string.ascii_letters + string.digits + "-") for _ in range(rng.randint(0, 8)))
            for _ in range(rng.randint(1, 4))
        )
        for _ in range(6000)
    ]
    return tricky + generated + shaped


def test_the_email_fast_path_agrees_with_email_validator():
    from app.validation import _plain_email

    fast_hits = 0
    for text in _email_corpus():
        slow = _email_validator_answer(text)
        fast = _plain_email(text.strip())
        if fast is not None:
            fast_hits += 1
            # The fast path never accepts what email_validator refuses, and normalises identically.
            assert slow == fast, text
        try:
            assert normalize_email(text) == slow, text
        except ValidationError:
            assert slow is None, text
    assert fast_hits > 500  # the corpus does exercise the fast path


def test_the_plain_amount_fast_path_agrees_with_the_general_reader():
    import random

    from app.crm.importing.values import _PLAIN_AMOUNT, _parse_amount, parse_amount

    rng = random.Random(5)
    corpus = [
        "$12,500.00",
        "12,500",
        "1,250,000",
        "0,500",
        "0.50",
        "12.5",
        "12.500",
        "$0",
        "00012",
        "9999999999999999",
        "99999999999999.99",
        "$1,23",
        "1,2345",
        "12,500.5",
        "$.50",
        "5.",
    ]
    for _ in range(3000):
        whole = rng.choice(["0", "7", str(rng.randint(1, 10 ** rng.randint(1, 17)))])
        grouped = f"{int(whole):,}" if rng.random() < 0.5 else whole
        tail = rng.choice(["", ".5", ".05", ".00", ".123", ","])
        corpus.append(rng.choice(["", "$"]) + grouped + tail)
    fast = 0
    for text in corpus:
        try:
            general = _parse_amount(text, "Amount")
        except ValidationError as error:
            general = error.message
        try:
            result = parse_amount(text)
        except ValidationError as error:
            result = error.message
        fast += bool(_PLAIN_AMOUNT.match(text))
        assert result == general, text
    assert fast > 1000

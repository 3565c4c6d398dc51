"""Property tests over the request validators and the error translation (no database)."""

from __future__ import annotations

import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from koe.api import backoffice_schemas as b
from koe.api import schemas as s
from koe.api.directory import API_RESOURCES
from koe.api.errors import language, validation_error

# A loaded CI machine must not fail a pure test on time.
NO_DEADLINE = settings(deadline=None)
KNOWN_CODES = {
    "required",
    "unknown_field",
    "too_long",
    "too_short",
    "wrong_type",
    "out_of_range",
    "invalid_choice",
    "invalid_format",
    "invalid_characters",
    "not_nullable",
    "invalid_email",
    "invalid_timezone",
    "document_too_large",
    "invalid_template",
    "invalid_base64",
}
MODELS: list[type[BaseModel]] = [
    m for r in API_RESOURCES.values() for m in (r.create, r.update) if m is not None
] + [s.TenantCreate, s.TenantUpdate, s.LoginIn, s.LicenseBuy, s.AddOnSubscribe, s.PasswordChange]
# The back office (contracts and billing).
MODELS += [
    b.ApplicationIn,
    b.DocumentUpload,
    b.ChangeIn,
    b.SuspensionIn,
    b.PauseIn,
    b.TerminationIn,
    b.TariffIn,
    b.IssuerIn,
    b.TaxRateIn,
    b.OneOffIn,
    b.CarrierStatementIn,
    b.RunIn,
    b.PaymentIn,
    b.OffsetIn,
    b.OutageIn,
]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=120)
KEYS = st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


def _field_names(model: type[BaseModel]) -> st.SearchStrategy[str]:
    return st.sampled_from([*model.model_fields, "unknown", "extra_field"])


@st.composite
def bodies(draw: st.DrawFn) -> tuple[type[BaseModel], dict[str, Any]]:
    model = draw(st.sampled_from(MODELS))
    body = draw(st.dictionaries(_field_names(model), json_values, max_size=8))
    return model, body


def _bad_chars(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n\r" for ch in text)


@settings(max_examples=250, deadline=None)
@given(bodies())
def test_any_body_validates_or_gets_precise_field_errors(
    case: tuple[type[BaseModel], dict[str, Any]],
) -> None:
    model, body = case
    try:
        parsed = model.model_validate(body)
    except ValidationError as err:
        problem = validation_error(err.errors())
        assert problem.code == "invalid_request"
        assert problem.fields
        assert [f for f in problem.fields if f.code not in KNOWN_CODES] == []
        assert all(f.field and f.message("ja") and f.message("en") for f in problem.fields)
        return
    assert set(body) <= set(model.model_fields)
    for value in parsed.model_dump().values():
        if isinstance(value, str):
            assert not _bad_chars(value)


@NO_DEADLINE
@given(st.text(max_size=300))
def test_names_are_trimmed_bounded_and_clean(text: str) -> None:
    try:
        skill = s.SkillCreate(name=text)
    except ValidationError as err:
        codes = {f.code for f in validation_error(err.errors()).fields}
        stripped = text.strip()
        any_control = any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)
        assert codes <= {"too_long", "too_short", "invalid_characters"}
        assert len(stripped) > 100 or not stripped or any_control
        return
    assert skill.name == text.strip()
    assert 1 <= len(skill.name) <= 100
    assert not _bad_chars(skill.name)


@NO_DEADLINE
@given(st.integers(min_value=-1000, max_value=1000))
def test_skill_levels_are_one_to_ten(level: int) -> None:
    try:
        entry = s.AgentSkillIn(skill_id="abc", level=level)
    except ValidationError as err:
        assert not 1 <= level <= 10
        fields = validation_error(err.errors()).fields
        assert [(f.field, f.code) for f in fields] == [("level", "out_of_range")]
        return
    assert 1 <= entry.level <= 10


@NO_DEADLINE
@given(st.text(alphabet="0123456789０１２３４５６７８９", min_size=1, max_size=8))
def test_extensions_accept_full_width_digits(written: str) -> None:
    body = {"login": "a", "password": "password", "display_name": "a", "extension": written}
    agent = s.AgentCreate.model_validate(body)
    assert agent.extension == unicodedata.normalize("NFKC", written)
    assert agent.extension.isascii()


@NO_DEADLINE
@given(st.sets(st.sampled_from(["name", "priority", "wrap_up_seconds", "max_length"])))
def test_patches_carry_only_the_fields_sent(fields: set[str]) -> None:
    values = {"name": "q", "priority": 3, "wrap_up_seconds": 0, "max_length": 9}
    patch = s.QueueUpdate.model_validate({f: values[f] for f in fields})
    assert set(patch.model_dump(exclude_unset=True)) == fields


@NO_DEADLINE
@given(st.text(max_size=200))
def test_accept_language_never_fails(header: str) -> None:
    assert language(header) in ("ja", "en")


@NO_DEADLINE
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ja", "en", "fr", "en-US", "ja-JP", "de"]),
            st.integers(min_value=0, max_value=10),
        ),
        max_size=5,
    )
)
def test_accept_language_picks_the_preferred_of_ja_and_en(tags: list[tuple[str, int]]) -> None:
    header = ", ".join(f"{tag};q={q / 10}" for tag, q in tags)
    # Highest quality wins; on a tie the tag listed first; without ja or en, ja.
    best = {"ja": (0, 0), "en": (0, 0)}
    for position, (tag, q) in enumerate(tags):
        primary = tag.split("-")[0]
        if primary in best and q > 0:
            best[primary] = max(best[primary], (q, -position))
    assert language(header) == ("en" if best["en"] > best["ja"] else "ja")

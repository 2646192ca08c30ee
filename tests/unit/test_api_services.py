"""StationService and TokenService (the services behind the REST API)."""

import pytest

from ampyre.adapters.memory import MemoryStore
from ampyre.domain.models import RegistrationStatus, Role
from ampyre.services.secrets import hash_api_token, verify_password
from ampyre.services.stations import (
    InvalidDescription,
    InvalidPassword,
    InvalidStationId,
    StationExists,
    StationNotFound,
    StationService,
    validate_station_id,
)
from ampyre.services.tokens import InvalidTokenInput, TokenService

PASSWORD = "0123456789abcdef"  # 16: the shortest allowed


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def stations(store: MemoryStore) -> StationService:
    return StationService(store)


@pytest.fixture
def tokens(store: MemoryStore) -> TokenService:
    return TokenService(store)


# station ids and passwords --------------------------------------------------------------
@pytest.mark.parametrize(
    "station_id", ["CP1", "a", "x" * 48, "A-Z_a=z0+9|@.*", "EVB-P1234.56.7", "cp@site|3", "..."]
)
def test_valid_station_ids(station_id: str) -> None:
    assert validate_station_id(station_id) == station_id


@pytest.mark.parametrize(
    "station_id",
    [
        *("", "x" * 49, "with space", "slash/id", "ümlaut", "tab\t", "new\nline", "q?", "hash#"),
        *("%20", "CP:1", ".", ".."),  # ':' cannot be a Basic user name; dot segments
    ],
)
def test_invalid_station_ids(station_id: str) -> None:
    with pytest.raises(InvalidStationId) as info:
        validate_station_id(station_id)
    assert isinstance(info.value, ValueError)
    assert info.value.field == "id"


async def test_create_hashes_the_password(stations: StationService, store: MemoryStore) -> None:
    station = await stations.create(
        "CP1",
        password=PASSWORD,
        registration_status=RegistrationStatus.PENDING,
        description="pole 1",
    )
    assert station.registration_status is RegistrationStatus.PENDING
    assert station.description == "pole 1"
    assert station.created_at is not None
    stored = await store.get_station("CP1")
    assert stored is not None and stored.password_hash is not None
    assert PASSWORD not in stored.password_hash
    assert verify_password(PASSWORD, stored.password_hash)


@pytest.mark.parametrize(
    "password", ["x" * 15, "x" * 41, "", "sixteen  spaces!", "päßwörd-päßwörd-x"]
)
async def test_password_rules(stations: StationService, password: str) -> None:
    with pytest.raises(InvalidPassword) as info:
        await stations.create("CP1", password=password)
    assert isinstance(info.value, ValueError)
    assert "16..40" in str(info.value) or "ASCII" in str(info.value)
    assert await stations.get("CP1") is None


async def test_password_of_40_characters_is_fine(stations: StationService) -> None:
    station = await stations.create("CP1", password="y" * 40)
    assert station.password_hash


async def test_duplicate_create(stations: StationService) -> None:
    await stations.create("CP1")
    with pytest.raises(StationExists):
        await stations.create("CP1")


async def test_update_fields(stations: StationService, store: MemoryStore) -> None:
    await stations.create("CP1", password=PASSWORD, description="old")

    s = await stations.update("CP1", registration_status=RegistrationStatus.REJECTED)
    assert s.registration_status is RegistrationStatus.REJECTED
    assert s.description == "old" and s.password_hash  # untouched

    s = await stations.update("CP1", description="new")
    assert s.description == "new"

    s = await stations.update("CP1", description=None)
    assert not s.description

    new = "a-new-password-16"
    s = await stations.update("CP1", password=new)
    assert verify_password(new, s.password_hash)

    s = await stations.update("CP1", password=None)
    assert s.password_hash is None

    with pytest.raises(InvalidPassword):
        await stations.update("CP1", password="short")
    with pytest.raises(InvalidDescription):
        await stations.update("CP1", description="d" * 501)


async def test_unknown_station(stations: StationService) -> None:
    assert await stations.get("nope") is None
    with pytest.raises(StationNotFound):
        await stations.require("nope")
    with pytest.raises(StationNotFound):
        await stations.update("nope", description="x")
    with pytest.raises(StationNotFound):
        await stations.delete("nope")


async def test_list_and_delete(stations: StationService) -> None:
    for i in range(3):
        await stations.create(f"CP{i}")
    page = await stations.list(limit=2, offset=0)
    assert page.total == 3 and len(page.items) == 2
    await stations.delete("CP0")
    assert (await stations.list()).total == 2
    assert await stations.connectors("CP1") == []


# tokens -----------------------------------------------------------------------------------
async def test_create_and_authenticate(tokens: TokenService, store: MemoryStore) -> None:
    plaintext, token = await tokens.create("ci", Role.OPERATOR)
    assert plaintext.startswith("amp_")
    assert token.id is not None and token.role is Role.OPERATOR and token.name == "ci"
    assert token.token_hash == hash_api_token(plaintext)
    assert all(plaintext not in repr(t) for t in await store.list_api_tokens())

    found = await tokens.authenticate(plaintext)
    assert found is not None and found.id == token.id
    assert await tokens.authenticate("amp_wrong") is None
    assert await tokens.authenticate("") is None


async def test_revoked_tokens_do_not_authenticate(tokens: TokenService) -> None:
    plaintext, token = await tokens.create("ci", "viewer")
    assert token.id is not None
    assert await tokens.revoke(token.id) is True
    assert await tokens.authenticate(plaintext) is None
    assert await tokens.revoke(9999) is False
    listed = await tokens.list()
    assert [t.revoked for t in listed] == [True]


async def test_create_validates(tokens: TokenService) -> None:
    with pytest.raises(InvalidTokenInput):
        await tokens.create("x", "root")
    with pytest.raises(InvalidTokenInput):
        await tokens.create("   ", Role.ADMIN)
    with pytest.raises(InvalidTokenInput):
        await tokens.create("n" * 101, Role.ADMIN)


async def test_bootstrap_token_is_idempotent(tokens: TokenService) -> None:
    value = "my-bootstrap-secret-123"
    first = await tokens.ensure_bootstrap(value)
    second = await tokens.ensure_bootstrap(value)
    assert first.id == second.id
    assert first.role is Role.ADMIN
    assert len(await tokens.list()) == 1
    found = await tokens.authenticate(value)
    assert found is not None and found.role is Role.ADMIN


async def test_revoked_bootstrap_token_stays_revoked(tokens: TokenService) -> None:
    value = "my-bootstrap-secret-123"
    token = await tokens.ensure_bootstrap(value)
    assert token.id is not None
    await tokens.revoke(token.id)
    again = await tokens.ensure_bootstrap(value)
    assert again.revoked
    assert await tokens.authenticate(value) is None


@pytest.mark.parametrize("value", ["", " padded ", "has space"])
async def test_bootstrap_token_must_be_a_single_word(tokens: TokenService, value: str) -> None:
    with pytest.raises(InvalidTokenInput):
        await tokens.ensure_bootstrap(value)

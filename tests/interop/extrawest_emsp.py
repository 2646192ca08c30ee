"""A small OCPI 2.2.1 eMSP made with the `extrawest-ocpi` package (import name `py_ocpi`),
the independent implementation of Ampyre's interop test
(tests/integration/test_ocpi_interop_extrawest.py).

It runs in its own virtualenv, `.venv-ocpi` (`make .venv-ocpi`): the package pins
fastapi 0.101.1, pydantic 1.10.12 and httpx 0.24.1, which Ampyre's environment cannot hold.

    .venv-ocpi/bin/python tests/interop/extrawest_emsp.py --token-a TOKEN_A \\
        [--country DE] [--party EXW] [--token-uid CARD ...]

It binds a free port on 127.0.0.1, prints one line `LISTENING http://127.0.0.1:PORT` on
stdout when it serves, and runs until SIGTERM/SIGINT (uvicorn's own handlers). Everything
is kept in memory.

What the package does (its own code, unchanged): the versions and 2.2.1 version details
endpoints, the credentials module (POST/PUT/GET/DELETE, including its calls back to the
partner's versions and details during POST and PUT), token checks on every request
(Base64 `Token` header), and the eMSP interfaces: Locations, Sessions, CDRs and Tariffs
Receiver (routing, validation with its own pydantic models, answers) and the Tokens
Sender (GET list, real-time authorization).

What is written here: the storage (`Store`, the package's `Crud` and `Authenticator`
hooks) and two routes for the test, outside OCPI:
- `GET /control/state`: what has arrived (partners, locations, sessions, CDRs, tariffs)
  and every OCPI request answered (method, path, HTTP status);
- `POST /control/register` `{"versions_url", "token"}`: this eMSP registers with a
  partner (credentials handshake initiated by us). The package has no client for that
  direction (it only answers a partner's POST), so the calls are made here, with the
  package's `Credentials` model checking the partner's answer.
"""

import argparse
import base64
import os
import secrets
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

# py_ocpi reads its settings from the environment when it is imported: our address and
# party first. The package's defaults stay otherwise (https URLs, CiString lower-casing).
ARGS = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ARGS.add_argument("--token-a", required=True, help="the token A a partner registers with")
ARGS.add_argument("--country", default="DE")
ARGS.add_argument("--party", default="EXW")
ARGS.add_argument("--name", default="Extrawest eMSP")
ARGS.add_argument("--token-uid", action="append", default=[], help="an RFID token this eMSP issues")


@dataclass
class Partner:
    """One registered partner: the token it uses with us, the one we use with it."""

    token_ours: str  # what the partner presents to us
    token_theirs: str  # what we present to the partner
    versions_url: str
    roles: list[dict[str, Any]]
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    initiated_by: str = "them"  # who started the handshake


@dataclass
class Store:
    token_a: str
    country: str
    party: str
    name: str
    base_url: str
    token_uids: list[str]
    partners: list[Partner] = field(default_factory=list)
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    cdrs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tariffs: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def our_credentials(self, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": f"{self.base_url}/ocpi/versions",
            "roles": [
                {
                    "role": "EMSP",
                    "country_code": self.country,
                    "party_id": self.party,
                    "business_details": {"name": self.name},
                }
            ],
        }

    def partner_of(self, token: str | None) -> Partner | None:
        return next((p for p in self.partners if p.token_ours == token), None)


def _key(kwargs: dict[str, Any], object_id: Any) -> str:
    return f"{kwargs.get('country_code')}/{kwargs.get('party_id')}/{object_id}".upper()


def issued_tokens(store: Store) -> list[dict[str, Any]]:
    """The RFID tokens of this eMSP as OCPI Token objects (its Tokens Sender interface)."""
    return [
        {
            "country_code": store.country,
            "party_id": store.party,
            "uid": uid,
            "type": "RFID",
            "contract_id": f"{store.country}-{store.party}-{uid}",
            "issuer": store.name,
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": "2026-01-01T00:00:00Z",
        }
        for uid in store.token_uids
    ]


def build_app(store: Store) -> Any:
    import httpx
    from fastapi import Request
    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import JSONResponse
    from py_ocpi import get_application
    from py_ocpi.core.adapter import BaseAdapter
    from py_ocpi.core.authentication.authenticator import Authenticator
    from py_ocpi.core.crud import Crud
    from py_ocpi.core.enums import Action, ModuleID, RoleEnum
    from py_ocpi.modules.credentials.v_2_2_1.schemas import Credentials
    from py_ocpi.modules.versions.enums import VersionNumber

    class MemoryAuthenticator(Authenticator):
        @classmethod
        async def get_valid_token_c(cls) -> list[str]:
            return [p.token_ours for p in store.partners]

        @classmethod
        async def get_valid_token_a(cls) -> list[str]:
            return [store.token_a] if store.token_a else []

    class MemoryCrud(Crud):
        @classmethod
        async def get(cls, module: ModuleID, role: RoleEnum, id: Any, *args: Any, **kw: Any) -> Any:
            if module == ModuleID.credentials_and_registration:
                partner = store.partner_of(kw.get("auth_token"))
                return store.our_credentials(partner.token_ours) if partner else None
            if module == ModuleID.locations:
                return store.locations.get(_key(kw, id))
            if module == ModuleID.sessions:
                return store.sessions.get(_key(kw, id))
            if module == ModuleID.tariffs:
                return store.tariffs.get(_key(kw, id))
            if module == ModuleID.cdrs:
                return store.cdrs.get(str(id).upper())
            if module == ModuleID.tokens:
                found = [t for t in issued_tokens(store) if t["uid"].upper() == str(id).upper()]
                return found[0] if found else None
            return None

        @classmethod
        async def list(
            cls, module: ModuleID, role: RoleEnum, filters: dict[str, Any], *args: Any, **kw: Any
        ) -> tuple[list[Any], int, bool]:
            items = issued_tokens(store) if module == ModuleID.tokens else []
            offset, limit = filters["offset"], filters["limit"]
            page = items[offset : offset + limit]
            return page, len(items), offset + len(page) >= len(items)

        @classmethod
        async def create(
            cls, module: ModuleID, role: RoleEnum, data: dict[str, Any], *args: Any, **kw: Any
        ) -> Any:
            if module == ModuleID.credentials_and_registration:
                # A partner registered with token A: keep its token and endpoints, retire
                # token A, answer with a new token for it.
                theirs = data["credentials"]
                partner = Partner(
                    token_ours=secrets.token_urlsafe(24),
                    token_theirs=theirs["token"],
                    versions_url=theirs["url"],
                    roles=theirs["roles"],
                    endpoints=data["endpoints"].get("endpoints", []),
                )
                store.partners.append(partner)
                store.token_a = ""
                return store.our_credentials(partner.token_ours)
            if module == ModuleID.locations:
                store.locations[_key(kw, data["id"])] = data
            elif module == ModuleID.sessions:
                store.sessions[_key(kw, data["id"])] = data
            elif module == ModuleID.tariffs:
                store.tariffs[_key(kw, data["id"])] = data
            elif module == ModuleID.cdrs:
                store.cdrs[str(data["id"]).upper()] = data
            return data

        @classmethod
        async def update(
            cls, module: ModuleID, role: RoleEnum, data: dict[str, Any], id: Any, *args: Any,
            **kw: Any,
        ) -> Any:  # fmt: skip
            if module == ModuleID.credentials_and_registration:
                # Credentials PUT: the partner's new token and endpoints, a new one for it.
                partner = store.partner_of(kw.get("auth_token"))
                if partner is None:
                    return None
                theirs = data["credentials"]
                partner.token_theirs = theirs["token"]
                partner.versions_url = theirs["url"]
                partner.roles = theirs["roles"]
                partner.endpoints = data["endpoints"].get("endpoints", [])
                partner.token_ours = secrets.token_urlsafe(24)
                return store.our_credentials(partner.token_ours)
            target = {
                ModuleID.locations: store.locations,
                ModuleID.sessions: store.sessions,
                ModuleID.tariffs: store.tariffs,
            }.get(module)
            if target is not None:
                target[_key(kw, id)] = data
            return data

        @classmethod
        async def delete(
            cls, module: ModuleID, role: RoleEnum, id: Any, *args: Any, **kw: Any
        ) -> None:
            if module == ModuleID.credentials_and_registration:
                partner = store.partner_of(kw.get("auth_token"))
                if partner is not None:
                    store.partners.remove(partner)
            elif module == ModuleID.tariffs:
                store.tariffs.pop(_key(kw, id), None)

        @classmethod
        async def do(
            cls, module: ModuleID, role: RoleEnum | None, action: Action, *args: Any,
            data: dict[str, Any] | None = None, **kw: Any,
        ) -> Any:  # fmt: skip
            if action == Action.authorize_token and data is not None:
                token = await cls.get(module, RoleEnum.emsp, data["token_uid"])
                return {"allowed": "ALLOWED", "token": token} if token else None
            return None

    app = get_application(
        version_numbers=[VersionNumber.v_2_2_1],
        roles=[RoleEnum.emsp],
        crud=MemoryCrud,
        modules=[
            ModuleID.credentials_and_registration,
            ModuleID.locations,
            ModuleID.sessions,
            ModuleID.cdrs,
            ModuleID.tariffs,
            ModuleID.tokens,
        ],
        authenticator=MemoryAuthenticator,
        adapter=BaseAdapter,
    )

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        if request.url.path.startswith("/ocpi/"):
            store.requests.append(f"{request.method} {request.url.path} {response.status_code}")
        return response

    @app.get("/control/state", include_in_schema=False)
    async def state() -> JSONResponse:
        return JSONResponse(
            jsonable_encoder(
                {
                    "token_a_valid": bool(store.token_a),
                    "partners": [
                        {
                            "versions_url": p.versions_url,
                            "roles": p.roles,
                            "endpoints": p.endpoints,
                            "initiated_by": p.initiated_by,
                        }
                        for p in store.partners
                    ],
                    "locations": store.locations,
                    "sessions": store.sessions,
                    "cdrs": store.cdrs,
                    "tariffs": store.tariffs,
                    "requests": store.requests,
                }
            )
        )

    @app.post("/control/register", include_in_schema=False)
    async def register(request: Request) -> JSONResponse:
        """The credentials handshake started by us (credentials 1.4.1 / 8.1): GET their
        versions and 2.2.1 details with their token A, POST our credentials with a new
        token B, keep the token C they answer, then read their details again with C."""
        wanted = await request.json()

        def auth(token: str) -> dict[str, str]:
            return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}

        async with httpx.AsyncClient(timeout=10) as client:
            versions = await client.get(wanted["versions_url"], headers=auth(wanted["token"]))
            details_url = next(v["url"] for v in versions.json()["data"] if v["version"] == "2.2.1")
            details = await client.get(details_url, headers=auth(wanted["token"]))
            endpoints = details.json()["data"]["endpoints"]
            credentials_url = next(e["url"] for e in endpoints if e["identifier"] == "credentials")
            token_b = secrets.token_urlsafe(24)
            pending = Partner(token_b, wanted["token"], wanted["versions_url"], [], endpoints, "us")
            store.partners.append(pending)  # token B must work while they call us back
            answer = await client.post(
                credentials_url, json=store.our_credentials(token_b), headers=auth(wanted["token"])
            )
            body = answer.json()
            if answer.status_code != 200 or body.get("status_code") != 1000:
                store.partners.remove(pending)
                return JSONResponse({"registered": False, "answer": body}, status_code=502)
            theirs = Credentials(**body["data"])
            pending.token_theirs = str(theirs.token)
            pending.roles = [r.dict() for r in theirs.roles]
            details = await client.get(details_url, headers=auth(pending.token_theirs))
            pending.endpoints = details.json()["data"]["endpoints"]
        return JSONResponse(jsonable_encoder({"registered": True, "roles": pending.roles}))

    return app


def main() -> None:
    args = ARGS.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    os.environ.update(
        OCPI_HOST=f"127.0.0.1:{port}",
        PROTOCOL="http",
        COUNTRY_CODE=args.country,
        PARTY_ID=args.party,
    )
    store = Store(args.token_a, args.country, args.party, args.name, base_url, args.token_uid)
    app = build_app(store)

    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    )
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    print(f"LISTENING {base_url}", flush=True)
    server.run(sockets=[sock])
    sys.exit(0)


if __name__ == "__main__":
    main()

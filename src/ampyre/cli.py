"""`ampyre serve | migrate | token create | user ... | simulate | bench`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from ampyre import __version__, logs
from ampyre.config import ConfigError, Settings, load_settings
from ampyre.domain.models import Role
from ampyre.services.ports import SchemaNotCurrent, StartupRefused, StoreUnavailable

if TYPE_CHECKING:
    from ampyre.domain.users import User


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML settings file (section [ampyre] or top level)")
    p.add_argument("--database-url", help="overrides AMPYRE_DATABASE_URL")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ampyre", description="Ampyre CSMS")
    parser.add_argument("--version", action="version", version=f"ampyre {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run gateway, REST API and workers in one process")
    _common(serve)
    serve.add_argument("--host")
    serve.add_argument("--ocpp-port", type=int)
    serve.add_argument("--http-port", type=int)
    serve.add_argument(
        "--auto-register",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="accept unknown stations that connect without credentials (labs, demos)",
    )
    serve.add_argument("--heartbeat-interval", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        help="N processes sharing the ports, each a cluster node (PostgreSQL and NATS)",
    )
    serve.add_argument("--node-id", help="this node's name in the cluster (default: host name)")

    migrate = sub.add_parser("migrate", help="apply database migrations")
    _common(migrate)

    token = sub.add_parser("token", help="manage API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create an API token and print it once")
    _common(create)
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", required=True)

    user = sub.add_parser("user", help="manage dashboard users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    user_create = user_sub.add_parser(
        "create", help="create a user (password asked twice, or one line from stdin)"
    )
    _common(user_create)
    user_create.add_argument("--role", required=True, choices=[r.value for r in Role])
    user_create.add_argument("name")
    _common(user_sub.add_parser("list", help="list users"))
    set_password = user_sub.add_parser(
        "set-password", help="give a user a new password (ends their sessions, lifts a lock)"
    )
    _common(set_password)
    set_password.add_argument("name")
    user_delete = user_sub.add_parser("delete", help="delete a user and their sessions")
    _common(user_delete)
    user_delete.add_argument("name")

    from ampyre.simulator.runner import add_cli_arguments

    pki = sub.add_parser("pki", help="the built-in PKI (CA hierarchy, station certificates)")
    pki_sub = pki.add_subparsers(dest="pki_command", required=True)
    pki_init = pki_sub.add_parser(
        "init", help="create the CSMS, V2G, MO, OEM and CPS CA hierarchy (what is missing)"
    )
    _common(pki_init)
    pki_init.add_argument("--dir", help="directory (default AMPYRE_PKI_DIR, ./var/pki)")
    pki_init.add_argument("--organisation", help="O of the certificates (AMPYRE_PKI_ORGANISATION)")
    pki_init.add_argument(
        "--host", action="append", default=[], help="another name/IP of the server certificate"
    )
    pki_init.add_argument("--force", action="store_true", help="replace an existing PKI")
    pki_show = pki_sub.add_parser("show", help="list the hierarchy's certificates")
    _common(pki_show)
    pki_show.add_argument("--dir")
    pki_issue = pki_sub.add_parser(
        "issue-station", help="a security profile 3 client certificate and key for a station"
    )
    _common(pki_issue)
    pki_issue.add_argument("station_id")
    pki_issue.add_argument("--out", required=True, help="directory for <id>.pem, <id>.key, ca.pem")
    pki_issue.add_argument("--dir")
    pki_issue.add_argument("--organisation")
    pki_issue.add_argument("--days", type=int, help="validity in days (default 365)")
    pki_vehicle = pki_sub.add_parser(
        "issue-vehicle",
        help="an OEM provisioning certificate for a simulated ISO 15118 vehicle "
        "(ampyre simulate --plug-and-charge DIR)",
    )
    _common(pki_vehicle)
    pki_vehicle.add_argument("pcid", help="the vehicle's PCID (17 or 18 letters and digits)")
    pki_vehicle.add_argument("--out", required=True, help="the vehicle directory")
    pki_vehicle.add_argument("--dir")
    pki_revoke = pki_sub.add_parser("revoke", help="revoke an issued certificate (OCSP)")
    _common(pki_revoke)
    pki_revoke.add_argument("serial", help="hexadecimal serial")
    pki_revoke.add_argument("--reason", default="unspecified", help="RFC 5280 CRLReason")
    pki_revoke.add_argument("--issuer", help="the issuing CA's name, if ambiguous")
    simulate = sub.add_parser("simulate", help="run simulated charging stations")
    add_cli_arguments(simulate)

    sub.add_parser(
        "bench", help="load generator (`ampyre bench --help`; full harness: `make bench`)"
    )
    return parser


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    overrides: dict[str, Any] = {
        "database_url": getattr(args, "database_url", None),
        "log_level": getattr(args, "log_level", None),
        **extra,
    }
    return load_settings(getattr(args, "config", None), overrides)


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop

        return int(uvloop.run(coro))
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return asyncio.run(coro)


# Garbage-collector tuning for the server process. Thousands of frames per second allocate
# millions of short-lived objects; with CPython's default gen-0 threshold (700) the
# collector runs hundreds of times a second and walks every connection's objects in its
# older generations. Measured on the 1,000-station benchmark: +15-20 % msgs/s.
GC_THRESHOLDS = (50_000, 20, 100)


async def _serve(settings: Settings) -> int:
    from ampyre import bootstrap

    app = bootstrap.build(settings)
    # Everything built so far lives as long as the process: keep it out of collections.
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    await bootstrap.run(app)
    return 0


async def _migrate(settings: Settings) -> int:
    from ampyre.adapters.db.migrate import current_revision, migrate

    await migrate(settings.database_url)
    print(f"database at head: {await current_revision(settings.database_url)}")
    return 0


async def _token_create(settings: Settings, role: str, name: str) -> int:
    from ampyre.adapters.db.store import SqlStore
    from ampyre.services.tokens import TokenService

    store = SqlStore(settings)
    await store.check_schema()
    await store.start()
    try:
        plaintext, token = await TokenService(store).create(name, role)
    finally:
        await store.close()
    print(plaintext)
    print(
        f"(token {token.id} '{token.name}', role {token.role.value}; shown only once)",
        file=sys.stderr,
    )
    return 0


def _read_password() -> str:
    """Asked twice on a terminal; otherwise one line from stdin (for scripts)."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat the password: ") != first:
            raise ValueError("the passwords do not match")
        return first
    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    password = password[:-1] if password.endswith("\r") else password
    if not password:
        raise ValueError("no password on stdin")
    return password


async def _user_command(settings: Settings, args: argparse.Namespace) -> int:
    """`ampyre user create | list | set-password | delete`."""
    from ampyre.adapters.db.store import SqlStore
    from ampyre.services.users import LastAdmin, UserExists, UserNotFound, UserService

    command: str = args.user_command
    # Read before touching the database: a bad password never waits for a connection.
    password = _read_password() if command in ("create", "set-password") else ""
    store = SqlStore(settings)
    await store.check_schema()
    await store.start()
    users = UserService(store, settings)
    try:
        if command == "create":
            user = await users.create(args.name, args.role, password)
            print(f"user {user.id} '{user.name}' created, role {user.role.value}")
        elif command == "list":
            _print_list(await users.list())
        elif command == "set-password":
            user = await users.find(args.name)
            assert user.id is not None
            await users.update(user.id, password=password)
            print(f"password of '{user.name}' changed; their sessions have ended")
        elif command == "delete":
            user = await users.find(args.name)
            assert user.id is not None
            await users.delete(user.id)
            print(f"user '{user.name}' deleted")
    except (UserExists, UserNotFound, LastAdmin) as exc:
        print(f"ampyre: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    return 0


def _print_list(users: list[User]) -> None:
    from ampyre.services.clock import utcnow

    now = utcnow()
    print(f"{'ID':>5}  {'NAME':<24} {'ROLE':<9} {'STATE':<9} LAST SIGN-IN")
    for u in users:
        state = "disabled" if u.disabled else "locked" if u.locked(now) else "active"
        last = u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else "-"
        print(f"{u.id:>5}  {u.name:<24} {u.role.value:<9} {state:<9} {last}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        # The load generator owns its options (see `ampyre bench --help`).
        from ampyre.simulator import loadgen

        return loadgen.main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        if args.command == "simulate":
            from ampyre.simulator.runner import main_from_args

            logs.configure("INFO")
            return _run(main_from_args(args))
        if args.command == "serve":
            settings = _settings(
                args,
                host=args.host,
                ocpp_port=args.ocpp_port,
                http_port=args.http_port,
                auto_register=args.auto_register,
                heartbeat_interval=args.heartbeat_interval,
                workers=args.workers,
                node_id=args.node_id,
            )
        else:
            settings = _settings(args)
        logs.configure(settings.log_level, settings.log_format)
        if args.command == "serve" and settings.workers > 1:
            from ampyre import workers

            return workers.run(settings, argv)
        if args.command == "serve":
            return _run(_serve(settings))
        if args.command == "migrate":
            return _run(_migrate(settings))
        if args.command == "token":
            return _run(_token_create(settings, args.role, args.name))
        if args.command == "user":
            return _run(_user_command(settings, args))
        if args.command == "pki":
            from ampyre.adapters.pki import commands as pki_commands

            if args.pki_command == "init":
                return pki_commands.pki_init(
                    settings, args.dir, args.organisation, args.host, args.force
                )
            if args.pki_command == "show":
                return pki_commands.pki_show(settings, args.dir)
            if args.pki_command == "issue-station":
                return _run(
                    pki_commands.pki_issue_station(
                        settings, args.station_id, args.out, args.dir, args.organisation, args.days
                    )
                )
            if args.pki_command == "issue-vehicle":
                from ampyre.simulator import plug_and_charge as pnc

                return pki_commands.pki_issue_vehicle(
                    settings,
                    args.pcid,
                    args.out,
                    args.dir,
                    (pnc.OEM_CERT, pnc.OEM_KEY, pnc.V2G_ROOT),
                )
            return _run(pki_commands.pki_revoke(settings, args.serial, args.reason, args.issuer))
        # --- end pki command ---
    except ConfigError as exc:
        print(f"ampyre: configuration error: {exc}", file=sys.stderr)
        return 2
    except SchemaNotCurrent as exc:
        print(f"ampyre: {exc}", file=sys.stderr)
        return 3
    except StoreUnavailable as exc:
        print(f"ampyre: database unavailable: {exc}", file=sys.stderr)
        return 4
    except StartupRefused as exc:
        print(f"ampyre: cannot start: {exc}", file=sys.stderr)
        return 5
    except ValueError as exc:
        print(f"ampyre: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())

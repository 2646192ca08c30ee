"""Typed settings, one place. Precedence: flags > environment (AMPYRE_*) > TOML file > defaults."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

ENV_PREFIX = "AMPYRE_"


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the setting."""


@dataclass(slots=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///./var/ampyre.db"
    bus_url: str = "memory://"
    host: str = "127.0.0.1"
    ocpp_port: int = 9000
    http_port: int = 8000
    node_id: str = ""  # defaults to the host name at start-up (`host-wN` for workers)
    # Cluster (services/cluster.py): subjects on the bus start with bus_prefix; a node
    # renews its lease every node_renew_interval seconds and is taken for dead after
    # node_lease seconds without; other nodes' stations are re-read from the database
    # every directory_resync seconds. workers: `serve` processes sharing the ports.
    bus_prefix: str = "ampyre"
    node_lease: float = 10.0
    node_renew_interval: float = 2.0
    directory_resync: float = 30.0
    workers: int = 1
    # Bind the OCPP and HTTP ports with SO_REUSEPORT (set by `serve --workers` for its
    # processes; several processes then share each port, the kernel spreads connections).
    reuse_port: bool = False
    auto_register: bool = False
    bootstrap_token: str | None = None
    heartbeat_interval: int = 300  # seconds, sent in BootNotification responses
    pending_retry_interval: int = 60  # interval given to Pending/Rejected stations
    ping_interval: float = 60.0  # WebSocket ping, 0 disables
    ping_timeout: float = 30.0  # no pong within this -> connection is dead
    max_message_size: int = 256 * 1024  # bytes per frame
    call_timeout: float = 30.0  # waiting for a station's answer to our CALL
    # Seconds a multi-part station report (NotifyReport, ...) may go without its next
    # part before it is closed as incomplete.
    report_timeout: float = 120.0
    # The base URL stations reach Ampyre's HTTP server at (firmware downloads, log
    # uploads); empty: http://{host}:{http_port}.
    public_url: str = ""
    # Uploaded diagnostics/security logs (services/logs.py): stored under log_dir, at
    # most log_upload_max bytes each (413 beyond).
    log_dir: str = "./var/logs"
    log_upload_max: int = 50 * 1024 * 1024
    # Hosted firmware files (services/firmware.py): stored under firmware_dir, at most
    # firmware_upload_max bytes each (413 beyond). An update with no final status this
    # many seconds after it was sent (or after its install time) is failed as timed out.
    firmware_dir: str = "./var/firmware"
    firmware_upload_max: int = 256 * 1024 * 1024
    firmware_update_timeout: float = 3600.0
    rollout_tick: float = 2.0  # how often the leader advances running rollouts
    # The balancer (services/balancer.py, on the leader): every balancer_tick seconds
    # it reloads the sites and recomputes each one (events recompute at once); an EVSE's
    # limit goes up at most once per balancer_min_interval seconds (down at once); a
    # car's draw counts balancer_settle seconds after its limit changed; a refused
    # profile is sent again after balancer_retry seconds; balancer_call_timeout waits
    # for a station's answer; its TxProfiles have stack level balancer_stack_level.
    # Load samples for the chart every site_sample_interval seconds, decisions and
    # samples kept site_history_days days.
    balancer_tick: float = 5.0
    balancer_min_interval: float = 10.0
    balancer_settle: float = 10.0
    balancer_retry: float = 30.0
    balancer_call_timeout: float = 15.0
    balancer_stack_level: int = 5
    site_sample_interval: float = 10.0
    site_history_days: int = 7
    # Security (issue 19): TLS listener and security profiles.
    # The TLS listener for security profiles 2 and 3 (gateway/tls.py); 0: none.
    ocpp_tls_port: int = 0
    # Its server certificate chain and key (PEM files); empty: the built-in PKI's
    # csms-server certificate (`ampyre pki init`), if one is there.
    ocpp_tls_cert: str = ""
    ocpp_tls_key: str = ""
    # CA bundle (PEM) that profile 3 client certificates must chain to; empty: the
    # built-in PKI's csms-root.
    ocpp_tls_ca: str = ""
    # The O (organizationName) every station client certificate must carry; empty: any.
    ocpp_tls_organisation: str = ""
    # Header in which a TLS-terminating proxy passes the client certificate (URL-encoded
    # PEM, e.g. nginx's $ssl_client_escaped_cert); read only from trusted_proxies.
    ocpp_tls_client_cert_header: str = ""
    # Security (issue 19): PKI, signers, OCSP.
    # The built-in PKI's directory (`ampyre pki init` writes <name>.pem/.key there; the
    # server loads it at start when initialised). pki_organisation: O of what `pki init`
    # and the station certificates carry.
    pki_dir: str = "./var/pki"
    pki_organisation: str = "Ampyre"
    # Who signs stations' CSRs (SignCertificate): "local" (the built-in PKI's csms-sub /
    # cpo-sub2) or "est" (an RFC 7030 EST server at est_url, e.g.
    # https://ca.example/.well-known/est; HTTP Basic with est_username/est_password;
    # est_ca: CA bundle to verify its TLS certificate; est_cert/est_key: our TLS client
    # certificate for it, if it wants one; est_timeout seconds per request).
    certificate_signer: str = "local"
    est_url: str = ""
    est_username: str = ""
    est_password: str = ""
    est_ca: str = ""
    est_cert: str = ""
    est_key: str = ""
    est_timeout: float = 30.0
    # OCSP: our responder's answers are valid ocsp_validity seconds (nextUpdate); the
    # client waits ocsp_timeout seconds for a responder and caches at most
    # ocsp_cache_size answers (each until its nextUpdate).
    ocsp_validity: float = 600.0
    ocsp_timeout: float = 10.0
    ocsp_cache_size: int = 10000
    # Security (issue 19): certificate management, security events.
    # CSRs (SignCertificate) for a ChargingStationCertificate must carry this subject O
    # (empty: not checked); a CSR over certificate_csr_max_bytes is rejected.
    certificate_organisation: str = ""
    certificate_csr_max_bytes: int = 5500
    # Seconds the signer (built-in CA or EST) may take before the request fails.
    certificate_sign_timeout: float = 60.0
    # Expiry watch (leader only): certificates that expire within certificate_expiry_days
    # get a renewal trigger and an alert, checked every certificate_expiry_interval s
    # (0 disables the watch); each one at most once per certificate_expiry_repeat s.
    certificate_expiry_days: float = 30.0
    certificate_expiry_interval: float = 3600.0
    certificate_expiry_repeat: float = 86400.0
    # Security events (the stations' and the CSMS's own) are kept this many days (0: ever).
    security_event_retention_days: int = 365
    # Security (issue 19): Plug & Charge.
    # who answers Get15118EVCertificate: "builtin" (the built-in PKI's mo-sub2 issues
    # the contract certificate, the response is signed with its cps-leaf; ISO 15118-2
    # installation), "http" (POST to contract_provider_url, a commercial Plug & Charge
    # platform; Bearer contract_provider_token if set; contract_provider_timeout seconds)
    # or "none" (answered Failed).
    contract_provider: str = "builtin"
    contract_provider_url: str = ""
    contract_provider_token: str = ""
    contract_provider_timeout: float = 10.0
    # eMAIDs the built-in provider gives: this country code + provider id (5
    # characters, e.g. DEABC) and 9 characters derived from the vehicle's PCID.
    contract_emaid_prefix: str = "ZZAMP"
    # the EXI codec: EXICodec.jar (default: the one in the installed `iso15118`
    # package, which `make` installs with --no-deps) run by exi_java (default: java on PATH).
    exi_jar: str = ""
    exi_java: str = ""
    # further roots (a PEM bundle file) that contract certificates presented with
    # Authorize may chain to, besides the built-in PKI's mo-root and v2g-root.
    pnc_trusted_roots: str = ""
    # the only hosts a station may name as OCSP responder (GetCertificateStatus,
    # Authorize hash data), comma-separated; empty: any http(s) responder.
    pnc_ocsp_hosts: list[str] = field(default_factory=list)
    trusted_proxies: list[str] = field(default_factory=list)  # CIDRs allowed to set X-Forwarded-For
    # Failed HTTP Basic logins before the handshake answers 429 (delay doubling per further
    # failure, up to auth_fail_max_delay seconds): per station id, per source address.
    auth_fail_station_limit: int = 5
    auth_fail_address_limit: int = 20
    auth_fail_max_delay: float = 300.0
    message_log: bool = True  # audit log of every OCPP frame
    # Retention (services/retention.py); 0 keeps everything.
    message_log_retention_days: int = 7
    message_log_heartbeat_retention_hours: int = 24
    status_history_retention_days: int = 90
    station_reports_retention_days: int = 90
    transaction_data_retention_days: int = 0  # meter values/events of ended transactions
    log_level: str = "INFO"
    log_format: str = "text"  # "text" or "json" (one JSON object per line)
    max_body_size: int = 1024 * 1024  # bytes per REST request body; larger ones get 413
    operator_audit_retention_days: int = 365  # the REST write trail (GET /api/v1/audit)
    alert_retention_days: int = 90  # alerts once cleared (0 = keep forever)
    sqlite_synchronous: str = "FULL"  # FULL keeps durable-before-ack across power loss
    db_pool_size: int = 20  # PostgreSQL connections per process
    write_batch_max: int = 500  # ops per group commit
    shutdown_grace: float = 5.0
    # Transactions: an active transaction without any message for this long while its
    # station is connected is queried and, if the station says it is over, closed.
    transaction_silence_timeout: float = 3600.0
    transaction_check_interval: float = 60.0  # how often to look for such transactions
    remote_start_wait: float = 10.0  # how long remote-start waits for the transaction id
    # Webhooks: attempts per delivery (backoff doubles from webhook_retry_base seconds).
    webhook_max_attempts: int = 8
    webhook_retry_base: float = 2.0
    webhook_timeout: float = 10.0  # seconds per HTTP attempt
    # Outbox: events every consumer has read are deleted after this many days.
    outbox_retention_days: int = 1
    # Dashboard users (services/users.py): this many failed sign-ins in a row lock the
    # account for login_lockout_seconds; a session lasts session_lifetime seconds from
    # sign-in (absolute, not extended by use). bootstrap_admin_password: if set, a user
    # "admin" with the admin role and this password exists after start-up.
    login_max_failures: int = 5
    login_lockout_seconds: float = 900.0
    session_lifetime: float = 12 * 3600.0
    bootstrap_admin_password: str | None = None
    # Dashboard event streams (GET /api/v1/stream): open at once per process (503 beyond),
    # and events queued per stream (a browser further behind is dropped and reconnects).
    stream_max_clients: int = 100
    stream_queue_size: int = 1000
    # Issue 20: OCPI roaming and pricing (each helper its own block).
    # Our OCPI party (credentials roles, routing headers, the objects we own): country
    # code (ISO 3166-1 alpha-2), party id (3 characters), business name and website, and
    # the roles we take (CPO, EMSP): modules of a role left out are not served.
    ocpi_country_code: str = "NL"
    ocpi_party_id: str = "AMP"
    ocpi_business_name: str = "Ampyre"
    ocpi_business_website: str = ""
    ocpi_roles: list[str] = field(default_factory=lambda: ["CPO", "EMSP"])
    # The public base URL of our OCPI server; empty: public_url (or http://host:port) + /ocpi.
    ocpi_base_url: str = ""
    # The most objects one paginated OCPI GET answers (X-Limit; a larger limit is lowered).
    ocpi_page_limit: int = 100
    # Outgoing OCPI calls: seconds per try, tries for network errors / HTTP 5xx, 408, 429,
    # and the first pause between tries (doubling).
    ocpi_client_timeout: float = 10.0
    ocpi_client_attempts: int = 3
    ocpi_client_backoff: float = 0.5
    # The push queue: attempts per request before it is kept as failed, the first pause
    # between attempts (doubling up to ocpi_push_backoff_max), how often each process
    # looks for due requests (a push on this process wakes it at once), and how many
    # requests it sends at a time.
    ocpi_push_max_attempts: int = 10
    ocpi_push_backoff: float = 5.0
    ocpi_push_backoff_max: float = 600.0
    ocpi_push_poll_interval: float = 2.0
    ocpi_push_concurrency: int = 8
    # The OCPI exchange log: days kept, and the bytes of each body kept.
    ocpi_exchange_retention_days: int = 30
    ocpi_exchange_body_max: int = 4096
    # The local time zone (IANA name) tariff restrictions are read in (start/end time,
    # dates, day of week) where no location gives one.
    tariff_time_zone: str = "UTC"
    # How long (s) which tariff applies is answered from memory; this node's own changes
    # are seen at once, other nodes' after at most this long.
    tariff_cache_seconds: float = 10.0
    # OCPI Locations: what a connector is when the operator did not describe it
    # (mod_locations Connector): its standard (ConnectorType), format (SOCKET or CABLE),
    # power type (AC_1_PHASE, AC_2_PHASE, AC_2_PHASE_SPLIT, AC_3_PHASE, DC), maximum
    # voltage in V (line to neutral for AC_3_PHASE) and maximum amperage in A.
    ocpi_connector_standard: str = "IEC_62196_T2"
    ocpi_connector_format: str = "SOCKET"
    ocpi_connector_power_type: str = "AC_3_PHASE"
    ocpi_connector_max_voltage: int = 230
    ocpi_connector_max_amperage: int = 32
    # eMSP role: seconds between fetches of our CPO partners' Locations (GET, only what
    # changed since the last one; a newly registered partner is fetched whole within a few
    # seconds). 0: never (then only their pushes are stored).
    ocpi_locations_pull_interval: float = 3600.0
    # OCPI Sessions we push (as CPO) to the eMSP of a roaming token: at most one update
    # (PATCH of kwh/cost/status, or PUT when charging periods were added) per this many
    # seconds per session; the start and the end are pushed at once.
    ocpi_session_update_interval: float = 60.0
    # CDRs also for ended transactions of local (non-roaming) tokens that a tariff priced,
    # for the operator's own billing; never pushed. False: CDRs only for roaming tokens.
    ocpi_cdr_local_transactions: bool = True
    # ISO 4217 currency of Sessions and CDRs that no tariff priced.
    ocpi_default_currency: str = "EUR"
    # Roaming authorization of a token Ampyre does not know (OCPI 2.2.1 mod_tokens): a
    # real-time authorization at the token's eMSP waits at most ocpi_realtime_auth_timeout
    # seconds; without an answer a NEVER-whitelisted token is accepted or rejected as
    # ocpi_realtime_auth_fallback says ("accept" | "reject"); an accepted answer is reused
    # at that station for ocpi_realtime_auth_cache seconds (Authorize, then the start).
    # ocpi_realtime_auth_unknown: also ask the eMSP partners about tokens none of them
    # pushed (sends the card's uid to every eMSP partner; off by default).
    ocpi_realtime_auth_timeout: float = 2.0
    ocpi_realtime_auth_fallback: str = "reject"
    ocpi_realtime_auth_cache: float = 60.0
    ocpi_realtime_auth_unknown: bool = False
    # As an eMSP: publish Ampyre's id tokens as OCPI tokens (GET, pushed to CPOs) with
    # this whitelist type for RFID tokens (ALWAYS | ALLOWED | ALLOWED_OFFLINE | NEVER;
    # app tokens and station-restricted tokens are always NEVER); changes are looked for
    # every ocpi_token_sync_interval seconds (on the leading node).
    ocpi_publish_tokens: bool = True
    ocpi_token_whitelist: str = "ALLOWED"
    ocpi_token_sync_interval: float = 10.0
    # OCPI commands received as a CPO: the timeout (seconds) told in the CommandResponse;
    # the station's answer is awaited at most this long (and at most call_timeout).
    ocpi_command_timeout: int = 60
    # OCPP cost messages from the tariff engine (services/ocpp_costs.py): 2.x totalCost
    # and CostUpdated, 1.6 California Pricing DataTransfer. False: none are sent.
    tariff_cost_messages: bool = True
    # A running priced transaction without a cost update for this many seconds gets one
    # (only if its cost changed); updates also follow every meter value. 0: only those.
    tariff_cost_update_interval: float = 60.0
    # Optional receipt URL for the driver, "{transaction_id}" replaced by Ampyre's
    # transaction id: the 1.6 FinalCost qrCodeText. Empty: none.
    tariff_cost_receipt_url: str = ""

    def trusted_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        try:
            return [ipaddress.ip_network(c, strict=False) for c in self.trusted_proxies]
        except ValueError as exc:
            raise ConfigError(f"AMPYRE_TRUSTED_PROXIES: {exc}") from exc


def _coerce(name: str, typ: Any, raw: Any) -> Any:
    text = str(typ)
    if isinstance(raw, str):
        if "bool" in text:
            low = raw.strip().lower()
            if low in {"1", "true", "yes", "on"}:
                return True
            if low in {"0", "false", "no", "off", ""}:
                return False
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}: expected true/false, got {raw!r}")
        if "list" in text:
            return [p.strip() for p in raw.split(",") if p.strip()]
        if "int" in text and "None" not in text:
            try:
                return int(raw)
            except ValueError as exc:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()}: expected an integer") from exc
        if "float" in text:
            try:
                return float(raw)
            except ValueError as exc:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()}: expected a number") from exc
        if "None" in text and raw == "":
            return None
        if text in ("<class 'str'>", "str | None"):
            return raw
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: unexpected text {raw!r}")
    # Values from a TOML file arrive typed: check them against the setting's type.
    if raw is None and "None" in text:
        return None
    if "list" in text:
        if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            return raw
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: expected a list of strings")
    if "bool" in text:
        if isinstance(raw, bool):
            return raw
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: expected true/false")
    if "int" in text and "None" not in text:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: expected an integer")
    if "float" in text:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: expected a number")
    if isinstance(raw, str):
        return raw
    raise ConfigError(f"{ENV_PREFIX}{name.upper()}: expected text")


def load_settings(
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    hints = get_type_hints(Settings)
    known = {f.name for f in fields(Settings)}
    if config_file is not None:
        try:
            data = tomllib.loads(Path(config_file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"--config {config_file}: {exc}") from exc
        section = data.get("ampyre", data)
        for key, value in section.items():
            if key not in known:
                raise ConfigError(f"--config {config_file}: unknown setting {key!r}")
            values[key] = _coerce(key, hints[key], value)
    for name in known:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _coerce(name, hints[name], raw)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    for port_name in ("ocpp_port", "http_port"):
        port = getattr(s, port_name)
        if not 0 <= port <= 65535:
            raise ConfigError(f"{ENV_PREFIX}{port_name.upper()}: {port} is not a port")
    if s.ocpp_port and s.ocpp_port == s.http_port:
        # With SO_REUSEPORT both servers could even bind it, each taking half the clients.
        raise ConfigError(f"AMPYRE_OCPP_PORT and AMPYRE_HTTP_PORT are both {s.ocpp_port}")
    if s.heartbeat_interval <= 0:
        raise ConfigError("AMPYRE_HEARTBEAT_INTERVAL must be positive")
    if s.max_message_size < 1024:
        raise ConfigError("AMPYRE_MAX_MESSAGE_SIZE must be at least 1024 bytes")
    if s.sqlite_synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ConfigError("AMPYRE_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA")
    for name in (
        "transaction_silence_timeout",
        "transaction_check_interval",
        "webhook_timeout",
        "report_timeout",
    ):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be positive")
    if min(s.auth_fail_station_limit, s.auth_fail_address_limit) < 1 or (
        s.auth_fail_max_delay <= 0
    ):
        raise ConfigError("AMPYRE_AUTH_FAIL_* limits must be at least 1 and the delay positive")
    if s.log_format.lower() not in {"text", "json"}:
        raise ConfigError("AMPYRE_LOG_FORMAT must be text or json")
    if s.max_body_size < 1024:
        raise ConfigError("AMPYRE_MAX_BODY_SIZE must be at least 1024 bytes")
    if s.log_upload_max < 1:
        raise ConfigError("AMPYRE_LOG_UPLOAD_MAX must be positive")
    if s.firmware_upload_max < 1024:
        raise ConfigError("AMPYRE_FIRMWARE_UPLOAD_MAX must be at least 1024 bytes")
    if s.firmware_update_timeout <= 0 or s.rollout_tick <= 0:
        raise ConfigError("AMPYRE_FIRMWARE_UPDATE_TIMEOUT and AMPYRE_ROLLOUT_TICK must be positive")
    for name in ("balancer_tick", "balancer_call_timeout", "site_sample_interval"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be positive")
    for name in ("balancer_min_interval", "balancer_settle", "balancer_retry"):
        if getattr(s, name) < 0:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be 0 or positive")
    if not 0 <= s.balancer_stack_level <= 1000 or s.site_history_days < 1:
        raise ConfigError(
            "AMPYRE_BALANCER_STACK_LEVEL must be within 0..1000, AMPYRE_SITE_HISTORY_DAYS >= 1"
        )
    if s.operator_audit_retention_days < 1:
        raise ConfigError("AMPYRE_OPERATOR_AUDIT_RETENTION_DAYS must be at least 1")
    for name in (
        "message_log_retention_days",
        "message_log_heartbeat_retention_hours",
        "status_history_retention_days",
        "station_reports_retention_days",
        "transaction_data_retention_days",
        "alert_retention_days",
        "security_event_retention_days",
    ):
        if getattr(s, name) < 0:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be 0 (keep) or positive")
    if s.webhook_max_attempts < 1:
        raise ConfigError("AMPYRE_WEBHOOK_MAX_ATTEMPTS must be at least 1")
    if s.outbox_retention_days < 1:
        raise ConfigError("AMPYRE_OUTBOX_RETENTION_DAYS must be at least 1")
    if s.login_max_failures < 1 or s.login_lockout_seconds <= 0 or s.session_lifetime <= 0:
        raise ConfigError(
            "AMPYRE_LOGIN_MAX_FAILURES must be at least 1, AMPYRE_LOGIN_LOCKOUT_SECONDS and "
            "AMPYRE_SESSION_LIFETIME positive"
        )
    if min(s.stream_max_clients, s.stream_queue_size) < 1:
        raise ConfigError("AMPYRE_STREAM_MAX_CLIENTS and AMPYRE_STREAM_QUEUE_SIZE must be >= 1")
    if s.node_renew_interval <= 0 or s.node_lease < 2 * s.node_renew_interval:
        raise ConfigError(
            "AMPYRE_NODE_RENEW_INTERVAL must be positive and AMPYRE_NODE_LEASE at least "
            "twice it (a lease must survive one late renewal)"
        )
    if s.directory_resync <= 0:
        raise ConfigError("AMPYRE_DIRECTORY_RESYNC must be positive")
    if not 1 <= s.workers <= 64:
        raise ConfigError("AMPYRE_WORKERS must be between 1 and 64")
    prefix = s.bus_prefix
    if (
        not prefix
        or any(not (c.isascii() and (c.isalnum() or c in "_-.")) for c in prefix)
        or (prefix.startswith(".") or prefix.endswith(".") or ".." in prefix)
    ):
        raise ConfigError("AMPYRE_BUS_PREFIX: letters, digits, '_', '-' and inner dots only")
    scheme = s.bus_url.split("://", 1)[0].lower() if "://" in s.bus_url else ""
    if scheme not in {"memory", "nats", "tls"}:
        raise ConfigError(f"AMPYRE_BUS_URL: {s.bus_url!r} is neither memory:// nor nats://")
    s.trusted_networks()
    # OCPI 2.2.1 credentials 7.4.1: country_code CiString(2), party_id CiString(3).
    if not (
        len(s.ocpi_country_code) == 2
        and s.ocpi_country_code.isascii()
        and s.ocpi_country_code.isalpha()
    ):
        raise ConfigError("AMPYRE_OCPI_COUNTRY_CODE must be two letters (ISO 3166-1 alpha-2)")
    if not (len(s.ocpi_party_id) == 3 and s.ocpi_party_id.isascii() and s.ocpi_party_id.isalnum()):
        raise ConfigError("AMPYRE_OCPI_PARTY_ID must be three letters or digits")
    if not 0 < len(s.ocpi_business_name) <= 100:
        raise ConfigError("AMPYRE_OCPI_BUSINESS_NAME must have 1 to 100 characters")
    if not s.ocpi_roles or any(r.upper() not in {"CPO", "EMSP"} for r in s.ocpi_roles):
        raise ConfigError("AMPYRE_OCPI_ROLES: one or both of CPO, EMSP")
    for name in ("ocpi_base_url", "ocpi_business_website"):
        url = getattr(s, name)
        if url and (not url.startswith(("http://", "https://")) or len(url) > 200):
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be an http(s) URL")
    if not 1 <= s.ocpi_page_limit <= 1000:
        raise ConfigError("AMPYRE_OCPI_PAGE_LIMIT must be within 1..1000")
    if min(s.ocpi_client_attempts, s.ocpi_push_max_attempts, s.ocpi_push_concurrency) < 1:
        raise ConfigError(
            "AMPYRE_OCPI_CLIENT_ATTEMPTS, AMPYRE_OCPI_PUSH_MAX_ATTEMPTS and "
            "AMPYRE_OCPI_PUSH_CONCURRENCY must be at least 1"
        )
    for name in (
        "ocpi_client_timeout",
        "ocpi_push_backoff",
        "ocpi_push_backoff_max",
        "ocpi_push_poll_interval",
    ):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be positive")
    if s.ocpi_client_backoff < 0:
        raise ConfigError("AMPYRE_OCPI_CLIENT_BACKOFF must be 0 or positive")
    if s.ocpi_exchange_retention_days < 1 or s.ocpi_exchange_body_max < 0:
        raise ConfigError(
            "AMPYRE_OCPI_EXCHANGE_RETENTION_DAYS must be at least 1, "
            "AMPYRE_OCPI_EXCHANGE_BODY_MAX 0 or more"
        )
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(s.tariff_time_zone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ConfigError(
            f"AMPYRE_TARIFF_TIME_ZONE: {s.tariff_time_zone!r} is not a known time zone"
        ) from None
    if not 0 <= s.tariff_cache_seconds <= 3600:
        raise ConfigError("AMPYRE_TARIFF_CACHE_SECONDS must be within 0..3600")
    from ampyre.domain.locations_enums import CONNECTOR_FORMATS, CONNECTOR_TYPES, POWER_TYPES

    for name, allowed in (
        ("ocpi_connector_standard", CONNECTOR_TYPES),
        ("ocpi_connector_format", CONNECTOR_FORMATS),
        ("ocpi_connector_power_type", POWER_TYPES),
    ):
        if getattr(s, name) not in allowed:
            raise ConfigError(
                f"AMPYRE_{name.upper()}: {getattr(s, name)!r} is not one of "
                + ", ".join(sorted(allowed))
            )
    for name in ("ocpi_connector_max_voltage", "ocpi_connector_max_amperage"):
        if not 1 <= getattr(s, name) <= 1_000_000:
            raise ConfigError(f"AMPYRE_{name.upper()}: must be 1..1000000")
    if not 0 <= s.ocpi_locations_pull_interval <= 30 * 86400:
        raise ConfigError("AMPYRE_OCPI_LOCATIONS_PULL_INTERVAL: must be 0..2592000 seconds")
    if s.ocpi_session_update_interval < 0:
        raise ConfigError("AMPYRE_OCPI_SESSION_UPDATE_INTERVAL must not be negative")
    currency = s.ocpi_default_currency
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise ConfigError("AMPYRE_OCPI_DEFAULT_CURRENCY must be an ISO 4217 code (EUR)")
    s.ocpi_default_currency = currency.upper()
    if not 0.1 <= s.ocpi_realtime_auth_timeout <= 30:
        raise ConfigError("AMPYRE_OCPI_REALTIME_AUTH_TIMEOUT must be 0.1..30 seconds")
    if s.ocpi_realtime_auth_fallback not in {"accept", "reject"}:
        raise ConfigError("AMPYRE_OCPI_REALTIME_AUTH_FALLBACK must be accept or reject")
    if not 0 <= s.ocpi_realtime_auth_cache <= 3600:
        raise ConfigError("AMPYRE_OCPI_REALTIME_AUTH_CACHE must be 0..3600 seconds")
    if s.ocpi_token_whitelist not in {"ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"}:
        raise ConfigError(
            "AMPYRE_OCPI_TOKEN_WHITELIST must be ALWAYS, ALLOWED, ALLOWED_OFFLINE or NEVER"
        )
    if s.ocpi_token_sync_interval <= 0:
        raise ConfigError("AMPYRE_OCPI_TOKEN_SYNC_INTERVAL must be positive")
    if not 1 <= s.ocpi_command_timeout <= 3600:
        raise ConfigError("AMPYRE_OCPI_COMMAND_TIMEOUT must be 1..3600 seconds")
    if not 0 <= s.tariff_cost_update_interval <= 86400:
        raise ConfigError(
            "AMPYRE_TARIFF_COST_UPDATE_INTERVAL: seconds between 0 (off) and 86400, "
            f"not {s.tariff_cost_update_interval}"
        )
    if len(s.tariff_cost_receipt_url) > 512:
        raise ConfigError("AMPYRE_TARIFF_COST_RECEIPT_URL: at most 512 characters")


def replace(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)

"""EXI encoding and decoding of ISO 15118 messages (issue 19, Plug & Charge).

The codec is EXIficient's `com.siemens.ct.exi.main.cmd.EXICodec`, packed as EXICodec.jar in
the `iso15118` PyPI package, driven through py4j: `encode(json, namespace) -> bytes` and
`decode(bytes, namespace) -> json`. The JSON mirrors the XSD: element names as keys,
base64Binary as base64 text, hexBinary as hex text, attributes (Id) as keys.

We use only the jar: the package is installed with `--no-deps` and none of its Python
modules is imported (its spec is looked up with `importlib.util.find_spec`, which does not
run the package). The JVM starts on first use, in the codec's own worker thread; every
call runs there too, one at a time, never on the event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import importlib.util
import json
import logging
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The namespaces the jar takes (it picks the schema-informed grammar from them).
ISO15118_2_MSG_DEF = "urn:iso:15118:2:2013:MsgDef"
ISO15118_20_COMMON = "urn:iso:std:iso:15118:-20:CommonMessages"
XML_DSIG = "http://www.w3.org/2000/09/xmldsig#"
NAMESPACES = frozenset({ISO15118_2_MSG_DEF, ISO15118_20_COMMON, XML_DSIG})

# Far above any ISO 15118 certificate message (OCPP caps exiRequest at 5600 base64
# characters, exiResponse at 7500): the codec never sees a bigger stream or document.
MAX_EXI_BYTES = 16_384
MAX_JSON_CHARS = 65_536
CALL_TIMEOUT = 30.0  # seconds for one call (the first one includes the JVM start)

JAR_NAME = "EXICodec.jar"
_CODEC_CLASS = "com.siemens.ct.exi.main.cmd.EXICodec"


class ExiUnavailable(RuntimeError):
    """The codec cannot run here: no Java runtime, no jar or no py4j. The message says
    what is missing and how to install it."""


class ExiError(ValueError):
    """A message could not be encoded or decoded (malformed input)."""


def find_jar(configured: str = "") -> Path:
    """The jar: the configured path (setting `exi_jar`), else the one inside the
    installed `iso15118` package, found without importing it."""
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise ExiUnavailable(f"exi_jar {configured!r} is not a file")
        return path
    try:
        spec = importlib.util.find_spec("iso15118")
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(location) / "shared" / JAR_NAME
        if candidate.is_file():
            return candidate
    raise ExiUnavailable(
        f"the EXI codec jar ({JAR_NAME}) was not found: install it with "
        "`pip install --no-deps iso15118==0.31.2 py4j` (make does) or set AMPYRE_EXI_JAR"
    )


def find_java(configured: str = "") -> str:
    """The `java` executable: the configured one (setting `exi_java`) or the one on PATH."""
    java = shutil.which(configured or "java")
    if java is None:
        raise ExiUnavailable(
            f"the EXI codec needs a Java runtime and {configured or 'java'!r} was not found: "
            "install Debian's default-jre-headless (make does) or set AMPYRE_EXI_JAVA"
        )
    return java


class ExiCodec:
    """One JVM per codec, started on first use; calls serialised on one worker thread."""

    def __init__(self, jar: str = "", java: str = "") -> None:
        self._jar_setting = jar
        self._java_setting = java
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="exi-codec")
        self._gateway: Any = None
        self._codec: Any = None
        self._start_error: ExiUnavailable | None = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise ExiUnavailable now if java, the jar or py4j is missing (cheap: no JVM)."""
        find_jar(self._jar_setting)
        find_java(self._java_setting)
        _java_gateway_module()

    # -- async API (event loop side) ------------------------------------------------

    async def encode(self, document: dict[str, Any], namespace: str) -> bytes:
        """`document` is `{element name: content}`; a whole V2G_Message or a fragment."""
        result: bytes = await self._run(self.encode_sync, document, namespace)
        return result

    async def decode(self, data: bytes, namespace: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._run(self.decode_sync, data, namespace)
        return result

    async def _run(self, fn: Any, *args: Any) -> Any:
        future = self._pool.submit(fn, *args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), CALL_TIMEOUT)
        except TimeoutError as exc:
            raise ExiError(f"the EXI codec did not answer within {CALL_TIMEOUT:.0f} s") from exc

    # -- blocking API (worker thread, or scripts and tests) ---------------------------

    def encode_sync(self, document: dict[str, Any], namespace: str) -> bytes:
        _check_namespace(namespace)
        text = json.dumps(document, separators=(",", ":"))
        if len(text) > MAX_JSON_CHARS:
            raise ExiError(f"document too large to encode ({len(text)} characters)")
        with self._lock:
            codec = self._jvm_codec()
            result = codec.encode(text, namespace)
            if result is None:
                raise ExiError(f"EXI encoding failed: {_short(codec.get_last_encoding_error())}")
        return bytes(result)

    def decode_sync(self, data: bytes, namespace: str) -> dict[str, Any]:
        _check_namespace(namespace)
        if not data:
            raise ExiError("empty EXI stream")
        if len(data) > MAX_EXI_BYTES:
            raise ExiError(f"EXI stream too large ({len(data)} bytes, at most {MAX_EXI_BYTES})")
        with self._lock:
            codec = self._jvm_codec()
            text = codec.decode(bytes(data), namespace)
            if text is None:
                raise ExiError(f"EXI decoding failed: {_short(codec.get_last_decoding_error())}")
        try:
            document = json.loads(str(text))
        except ValueError as exc:
            raise ExiError(f"the EXI codec returned no JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise ExiError("the EXI codec returned no element")
        return document

    def version(self) -> str:
        with self._lock:
            return str(self._jvm_codec().get_version())

    def _jvm_codec(self) -> Any:
        """The jar's codec object; starts the JVM the first time (under the lock)."""
        if self._codec is not None:
            return self._codec
        if self._start_error is not None:
            raise self._start_error
        try:
            jar = find_jar(self._jar_setting)
            java = find_java(self._java_setting)
            gateway_module = _java_gateway_module()
            logging.getLogger("py4j").setLevel(logging.WARNING)
            gateway = gateway_module.JavaGateway.launch_gateway(
                classpath=str(jar),
                java_path=java,
                die_on_exit=True,  # the JVM ends with this process
                javaopts=[
                    "--add-opens",
                    "java.base/java.lang=ALL-UNNAMED",
                    "-Xmx192m",
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                ],
            )
            try:
                self._codec = gateway.jvm.com.siemens.ct.exi.main.cmd.EXICodec()
            except Exception:  # a jar without the codec class: stop the JVM we started
                _stop_gateway(gateway)
                raise
            self._gateway = gateway
        except ExiUnavailable as exc:
            self._start_error = exc
            raise
        except Exception as exc:  # py4j raises plain exceptions when java fails to start
            self._start_error = ExiUnavailable(f"the EXI codec's JVM did not start: {exc}")
            raise self._start_error from exc
        log.info("EXI codec started (%s, jar %s)", _CODEC_CLASS, jar)
        return self._codec

    def close(self) -> None:
        """Stop the JVM (if started) and the worker thread."""
        with self._lock:
            gateway, codec = self._gateway, self._codec
            self._gateway = self._codec = None
        if gateway is not None:
            _stop_gateway(gateway, codec)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _stop_gateway(gateway: Any, codec: Any = None) -> None:
    """End the JVM without talking to it once it is gone: py4j's shutdown command gets
    no answer from a JVM that exits, and a Java object collected later would reconnect
    to a dead one (each logs a traceback). So: release our object while the JVM runs,
    close the connections, then end the process (die_on_exit: its stdin closes)."""
    process = gateway.java_process
    try:
        if codec is not None:
            gateway.detach(codec)
        gateway.close(keep_callback_server=True)  # no callback server was started
    except Exception:  # the JVM may already be gone; nothing left to free
        log.debug("EXI codec JVM close failed", exc_info=True)
    if process is not None:
        _end_process(process)


def _end_process(process: subprocess.Popen[bytes]) -> None:
    """The JVM was started with die_on_exit: it ends when its stdin closes."""
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _java_gateway_module() -> Any:
    try:
        return importlib.import_module("py4j.java_gateway")
    except ImportError as exc:
        raise ExiUnavailable(
            "the EXI codec needs py4j: `pip install py4j` (make installs it)"
        ) from exc


def _check_namespace(namespace: str) -> None:
    if namespace not in NAMESPACES:
        raise ExiError(f"unsupported EXI namespace {namespace!r}")


def _short(error: object) -> str:
    text = str(error or "unknown error").strip().splitlines()
    return (text[0] if text else "unknown error")[:300]

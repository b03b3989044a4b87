"""Real local servers for the channel contract tests, all bound to 127.0.0.1 on ephemeral ports.

- ``smtp_server(sink, ...)``: an aiosmtpd ``Controller`` whose handler (``SmtpSink``) collects
  what arrives, can refuse chosen recipients with a scripted reply, and can demand AUTH before
  MAIL FROM (enforced by the handler, so aiosmtpd's ``auth_required`` — which warns without
  TLS — is not needed). Plain, STARTTLS (``tls_context``) or implicit TLS (``ssl_context``).
- ``ScriptedHttpServer``: a ``ThreadingHTTPServer`` whose reply per path is scripted
  (status, body, or hold the reply until the server stops — for time-outs); records requests.
- ``self_signed_cert``: a certificate for 127.0.0.1, via ``cryptography`` if installed, else the
  ``openssl`` command; None if neither is available (the TLS tests skip then).
- ``refused_port`` (bound, not listening: connections are refused) and ``silent_port``
  (listening, never answering: reads time out).
"""

import asyncio
import email
import email.policy
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
POLL_INTERVAL = 0.005
"""How often the HTTP server looks for ``shutdown()``: the bound on each test's teardown."""
HOLD_LIMIT = 10.0
"""A held HTTP reply is released at the latest after this many seconds, so nothing hangs."""


# ---------------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    login: str | None

    def parsed(self) -> EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)


@dataclass
class SmtpSink:
    """An aiosmtpd handler that collects messages."""

    refuse: dict[str, str] = field(default_factory=dict)
    """Recipient address → the reply to its RCPT TO (e.g. ``"550 5.1.1 no such user"``)."""
    require_auth: bool = False
    accounts: dict[str, str] = field(default_factory=dict)
    messages: list[ReceivedMail] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    """Every AUTH attempt: (mechanism, login, password)."""

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        transport = server.transport
        tls = transport is not None and transport.get_extra_info("ssl_object") is not None
        auth = session.auth_data if session.authenticated else None
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        assert envelope.mail_from is not None and isinstance(envelope.content, bytes)
        self.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, tls, login))
        return "250 2.0.0 Message accepted for delivery"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((mechanism, login, password))
        ok = login in self.accounts and self.accounts[login] == password
        if ok:
            return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535


class _EphemeralController(Controller):
    """A ``Controller`` on port 0: learns its port before aiosmtpd's start-up probe connects."""

    def _trigger_server(self) -> None:
        server = cast(asyncio.Server, self.server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@contextmanager
def smtp_server(
    sink: SmtpSink,
    *,
    tls_context: ssl.SSLContext | None = None,
    require_starttls: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> Iterator[int]:
    """Run an SMTP server for ``sink`` on 127.0.0.1; yield its port."""
    kwargs: dict[str, Any] = {}
    if tls_context is not None:
        kwargs.update(tls_context=tls_context, require_starttls=require_starttls)
    if sink.require_auth:
        # Offer LOGIN only, over plain connections too (the handler enforces AUTH before MAIL).
        kwargs.update(
            authenticator=sink.authenticate,
            auth_require_tls=False,
            auth_exclude_mechanism=["PLAIN"],
        )
    controller = _EphemeralController(sink, hostname=HOST, port=0, ssl_context=ssl_context, **kwargs)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


# ---------------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] = b""
    hold: bool = False
    """Hold the reply until the server stops (or ``HOLD_LIMIT``): the client times out first."""
    headers: dict[str, str] = field(default_factory=dict)


ROBOT_OK = Reply(200, {"errcode": 0, "errmsg": "ok"})


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    raw_query: str
    headers: Message
    body: bytes

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query, keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    scripted: "ScriptedHttpServer"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a held reply is written to a client that has given up."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        scripted = self.server.scripted
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        parts = urlsplit(self.path)
        scripted.requests.append(ReceivedRequest("POST", parts.path, parts.query, self.headers, body))
        reply = scripted.replies.get(parts.path, Reply(404, b"not scripted"))
        if reply.hold:
            scripted.release.wait(HOLD_LIMIT)
        payload = reply.body
        data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        self.send_response(reply.status)
        content_type = "application/json" if isinstance(payload, dict) else "text/plain"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class ScriptedHttpServer:
    """An HTTP server on 127.0.0.1 whose reply per path is scripted; use as a context manager."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.requests: list[ReceivedRequest] = []
        self.release = threading.Event()
        self._server = _Server((HOST, 0), _Handler)
        self._server.scripted = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def script(self, path: str, reply: Reply) -> str:
        """Answer POSTs to ``path`` with ``reply``; return the URL of ``path``."""
        self.replies[path] = reply
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def __enter__(self) -> "ScriptedHttpServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(HOLD_LIMIT)


# ---------------------------------------------------------------------------------- sockets


@contextmanager
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but not listening: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        yield sock.getsockname()[1]


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (in the backlog) and never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        sock.listen(8)
        yield sock.getsockname()[1]


# ---------------------------------------------------------------------------------- TLS


def self_signed_cert(directory: Path) -> tuple[Path, Path] | None:
    """``(cert.pem, key.pem)`` for 127.0.0.1, or None if no way to make one is installed."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        _cert_with_cryptography(cert, key)
        return cert, key
    except ImportError:
        pass
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    command = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
        "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, timeout=60, check=False)
    return (cert, key) if result.returncode == 0 else None


def _cert_with_cryptography(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives import hashes, serialization  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives.asymmetric import ec  # type: ignore[import-not-found, unused-ignore]
    from cryptography.x509.oid import NameOID  # type: ignore[import-not-found, unused-ignore]

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_tls_context(cert: Path) -> ssl.SSLContext:
    """A verifying client context that trusts ``cert`` (and nothing else)."""
    return ssl.create_default_context(cafile=str(cert))

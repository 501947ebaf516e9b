"""Real mail servers for the email channel's tests: Dovecot (IMAP) and aiosmtpd (SMTP).

Dovecot runs from a generated config in a temporary directory, listening on a free port of
127.0.0.1 with plaintext login and one mailbox user. Tests deliver mail with IMAP APPEND,
exactly as another mail client would. aiosmtpd is a real SMTP server whose handler keeps
what it receives and can be told to answer with a chosen SMTP reply.
"""

from __future__ import annotations

import contextlib
import dataclasses
import imaplib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
DOVEADM = shutil.which("doveadm") or ("/usr/bin/doveadm" if os.path.exists("/usr/bin/doveadm") else None)

IMAP_USER = "support"
IMAP_PASSWORD = "imap-secret-42"


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclasses.dataclass
class Dovecot:
    """A running Dovecot with one user; ``append`` delivers a mail into a folder."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    config: Path
    user: str = IMAP_USER
    password: str = IMAP_PASSWORD

    def client(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(self.user, self.password)
        return imap

    def append(self, raw: bytes, *, folder: str = "INBOX") -> None:
        imap = self.client()
        try:
            typ, data = imap.append(_quoted(folder), None, None, raw)
            assert typ == "OK", data
        finally:
            imap.logout()

    def create_folder(self, folder: str) -> None:
        imap = self.client()
        try:
            typ, data = imap.create(_quoted(folder))
            assert typ == "OK", data
        finally:
            imap.logout()

    def uidvalidity(self, folder: str = "INBOX") -> int:
        imap = self.client()
        try:
            typ, data = imap.status(_quoted(folder), "(UIDVALIDITY)")
            assert typ == "OK", data
            text = data[0].decode() if isinstance(data[0], bytes) else str(data[0])
            return int(text.rsplit("UIDVALIDITY", 1)[1].strip(" )"))
        finally:
            imap.logout()

    def change_uidvalidity(self, folder: str = "INBOX") -> int:
        """Give the folder a new UIDVALIDITY, as a server does after its index is rebuilt."""
        new_value = self.uidvalidity(folder) + 1000
        assert DOVEADM is not None
        subprocess.run(
            [
                DOVEADM,
                "-c",
                str(self.config),
                "mailbox",
                "update",
                "-u",
                self.user,
                "--uid-validity",
                str(new_value),
                folder,
            ],
            check=True,
            capture_output=True,
        )
        return new_value

    def with_new_user(self) -> Dovecot:
        """The same server seen by a user of its own: an empty mailbox whose UIDs start at 1."""
        return dataclasses.replace(self, user=f"user{secrets.token_hex(4)}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _mail_ids() -> tuple[int, int]:
    # Dovecot refuses mail access as root: as root, mailboxes belong to "nobody".
    return (65534, 65534) if os.getuid() == 0 else (os.getuid(), os.getgid())


def _dovecot_config(root: Path, port: int) -> str:
    uid, gid = _mail_ids()
    me = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:
        # Dovecot refuses mail access as root: the mailbox belongs to "nobody", the
        # services run as the users the Debian package created.
        internal_user, login_user = "dovecot", "dovenull"
    else:
        internal_user = login_user = me
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
default_internal_user = {internal_user}
default_login_user = {login_user}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
# Any user name logs in with the one password; each user gets an empty mailbox of its own.
passdb {{
  driver = static
  args = password={IMAP_PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@contextlib.contextmanager
def running_dovecot(tmp: Path) -> Iterator[Dovecot]:
    assert DOVECOT is not None, "dovecot is not installed"
    root = tmp / "dovecot"
    home = root / "home"
    for path in (root / "run", root / "state", home):
        path.mkdir(parents=True, exist_ok=True)
    uid, gid = _mail_ids()
    if os.getuid() == 0:
        for path in (root, home):
            os.chown(path, uid, gid)
        # Dovecot's own services must reach the base and state directories.
        os.chmod(root, 0o755)  # noqa: S103
        os.chmod(tmp, 0o755)  # noqa: S103
    port = free_port()
    config = root / "dovecot.conf"
    config.write_text(_dovecot_config(root, port))
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    server = Dovecot(root=root, port=port, process=process, config=config)
    try:
        try:
            _wait_for_port(port)
        except RuntimeError:
            process.kill()
            output = process.communicate(timeout=5)[0].decode(errors="replace")
            raise RuntimeError(f"dovecot did not start: {output}\n{server.log()}") from None
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


# --- SMTP ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if self.sink.reply_to_rcpt:
            return self.sink.reply_to_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.reply_to_data:
            return self.sink.reply_to_data
        self.sink.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


@dataclasses.dataclass
class SmtpSink:
    """A real SMTP server on 127.0.0.1 keeping every mail it accepts.

    Set ``reply_to_rcpt`` or ``reply_to_data`` (e.g. "451 4.3.0 try later") to make it refuse.
    """

    port: int
    received: list[ReceivedMail] = dataclasses.field(default_factory=list)
    reply_to_rcpt: str = ""
    reply_to_data: str = ""
    auth: dict[str, str] = dataclasses.field(default_factory=dict)


@contextlib.contextmanager
def running_smtp_sink(*, username: str = "", password: str = "") -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    sink = SmtpSink(port=free_port())

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == username
            and auth_data.password.decode() == password
        )
        if ok:
            sink.auth = {"username": username}
        return AuthResult(success=ok, handled=False)

    kwargs: dict[str, Any] = {}
    if username:
        # PLAIN only: smtplib's AUTH LOGIN with an initial response hangs aiosmtpd after a refusal.
        kwargs = {
            "authenticator": authenticator,
            "auth_require_tls": False,
            "auth_required": True,
            "auth_exclude_mechanism": ["LOGIN"],
        }
    controller = Controller(_SinkHandler(sink), hostname="127.0.0.1", port=sink.port, **kwargs)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


# --- pytest fixtures (import them into a test module to use them) ---------------------------------


def _require_dovecot() -> None:
    import pytest

    if DOVECOT is not None:
        return
    reason = "needs the dovecot IMAP server (apt-get install dovecot-imapd)"
    if os.environ.get("REQUIRE_SERVICES", "") in ("1", "true", "yes"):
        pytest.fail(f"{reason}; REQUIRE_SERVICES=1 forbids skipping")
    pytest.skip(reason)


def dovecot_server_fixture() -> Iterator[Dovecot]:
    """One Dovecot for a whole test module (use with scope="module"); see ``dovecot_fixture``."""
    import tempfile

    _require_dovecot()
    # Not pytest's tmp_path: its parents are private to root, and Dovecot's mail process runs as "nobody".
    tmp = Path(tempfile.mkdtemp(prefix="dovecot-test-"))
    try:
        with running_dovecot(tmp) as server:
            yield server
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def dovecot_fixture(dovecot_server: Dovecot) -> Dovecot:
    """A fresh, empty mailbox on the module's Dovecot: tests never see each other's mail."""
    return dovecot_server.with_new_user()


def smtp_sink_fixture() -> Iterator[SmtpSink]:
    with running_smtp_sink() as sink:
        yield sink


def fixture_eml(name: str, **replacements: str) -> bytes:
    """A mail of the corpus in tests/fixtures/eml, with {{NAME}} placeholders filled in."""
    raw = (Path(__file__).resolve().parent.parent / "fixtures" / "eml" / name).read_bytes()
    for key, value in replacements.items():
        raw = raw.replace(("{{" + key + "}}").encode(), value.encode())
    return raw

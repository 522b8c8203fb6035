"""A real LDAP server for tests: Debian's slapd, in the foreground, on an ephemeral loopback port.

Each server gets its own slapd.conf and mdb database under a temporary directory, loaded offline with
slapadd before slapd starts, so no system-wide slapd instance or its cn=config is touched. slapd runs as
the user running the tests (root in CI): with no -u/-g it does not drop privileges, so the files that
slapadd wrote stay readable to it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ldap3 import Connection, Server
from ldap3.core.exceptions import LDAPException

SUFFIX = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{SUFFIX}"
SERVICE_DN = f"cn=reader,ou=services,{SUFFIX}"
PEOPLE_BASE = f"ou=people,{SUFFIX}"
GROUPS_BASE = f"ou=groups,{SUFFIX}"
STARTUP_TIMEOUT = 20.0
# Debian's layout: back_mdb is a loadable module, the schemas ship in /etc/ldap/schema.
MODULE_DIR = "/usr/lib/ldap"
SCHEMA_DIR = "/etc/ldap/schema"


@dataclass(frozen=True, slots=True)
class LdapUser:
    uid: str
    password: str
    full_name: str
    surname: str
    email: str

    @property
    def dn(self) -> str:
        return f"uid={self.uid},{PEOPLE_BASE}"


def _tool(name: str) -> str:
    # /usr/sbin is not on every PATH (a non-root shell); the package installs there.
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError(f"{name} is missing: install Debian's slapd package (scripts/bootstrap --dev)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hash_password(password: str) -> str:
    """{SSHA} as slapd itself would store it."""
    out = subprocess.run([_tool("slappasswd"), "-h", "{SSHA}", "-s", password], capture_output=True, check=True)
    return out.stdout.decode().strip()


@dataclass
class Slapd:
    workdir: Path
    users: tuple[LdapUser, ...]
    # group cn -> uids of its members
    groups: dict[str, tuple[str, ...]]
    service_password: str = "reader-secret"
    admin_password: str = "admin-secret"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def start(self) -> Slapd:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "db").mkdir()
        conf = self.workdir / "slapd.conf"
        conf.write_text(self._config())
        ldif = self.workdir / "data.ldif"
        ldif.write_text(self._ldif())
        subprocess.run(
            [_tool("slapadd"), "-q", "-f", str(conf), "-l", str(ldif)], capture_output=True, check=True, timeout=60
        )
        self.log_path = self.workdir / "slapd.log"
        # The port is chosen here and bound by slapd a moment later; retry if another process took it.
        for _ in range(3):
            self.port = _free_port()
            if self._launch(conf):
                return self
        raise RuntimeError(f"slapd did not start:\n{self.log_path.read_text(errors='replace')}")

    def _launch(self, conf: Path) -> bool:
        with open(self.log_path, "wb") as log:
            # -d keeps slapd in the foreground (a child we can stop); level "none" keeps the log short.
            self.process = subprocess.Popen(
                [_tool("slapd"), "-d", "none", "-f", str(conf), "-h", self.url],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._answers():
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.02)
        self.stop()
        return False

    def _answers(self) -> bool:
        # Ready means a real bind works, not merely that the port accepts connections.
        try:
            conn = Connection(Server(self.url, connect_timeout=1), SERVICE_DN, self.service_password, receive_timeout=2)
            ok = bool(conn.bind())
            conn.unbind()
            return ok
        except LDAPException:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _config(self) -> str:
        schemas = "".join(f"include {SCHEMA_DIR}/{name}.schema\n" for name in ("core", "cosine", "inetorgperson"))
        return f"""{schemas}
pidfile "{self.workdir}/slapd.pid"
argsfile "{self.workdir}/slapd.args"
modulepath {MODULE_DIR}
moduleload back_mdb

database mdb
suffix "{SUFFIX}"
rootdn "{ADMIN_DN}"
rootpw {hash_password(self.admin_password)}
directory "{self.workdir}/db"
maxsize 16777216
index objectClass eq
index uid eq
index member eq

# Passwords are only usable to bind; everything else is readable, anonymously too, like many
# directories that allow anonymous search.
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by * read
"""

    def _ldif(self) -> str:
        entries = [
            f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example",
            f"dn: {PEOPLE_BASE}\nobjectClass: organizationalUnit\nou: people",
            f"dn: {GROUPS_BASE}\nobjectClass: organizationalUnit\nou: groups",
            f"dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services",
            f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
            f"cn: reader\nuserPassword: {hash_password(self.service_password)}",
        ]
        for user in self.users:
            entries.append(
                f"dn: {user.dn}\nobjectClass: inetOrgPerson\nuid: {user.uid}\ncn: {user.full_name}\n"
                f"sn: {user.surname}\nmail: {user.email}\nuserPassword: {hash_password(user.password)}"
            )
        by_uid = {user.uid: user for user in self.users}
        for cn, members in self.groups.items():
            lines = "".join(f"\nmember: {by_uid[uid].dn}" for uid in members)
            entries.append(f"dn: cn={cn},{GROUPS_BASE}\nobjectClass: groupOfNames\ncn: {cn}{lines}")
        return "\n\n".join(entries) + "\n"

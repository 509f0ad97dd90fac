"""The LDAP / Active Directory login backend ([auth.ldap]) against a real
OpenLDAP server: Debian's slapd, started by the test on a free loopback port
with its own slapd.conf and mdb database in the test's temp directory (never
the system service), filled with slapadd before it starts. Direct bind at a
DN template, search-then-bind with a service account (the Active Directory
way), groups from groupOfNames entries in rules, a filter-injection attempt,
an empty password, the server stopped, stalled and back, and the credential
cache carrying logins while it is down. slapd logs at loglevel stats, so a
test can count the operations a login costs the directory (a missing user
and a wrong password must cost the same), and `explain --user` reads the
directory's groups.
"""
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from harness import BIN, Proxy, base_config, curl
from test_observability import admin_get, status_json

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SUFFIX = "dc=school,dc=example"
PEOPLE = "ou=people," + SUFFIX

pytestmark = pytest.mark.skipif(not os.path.exists(SLAPD), reason="needs slapd (Debian package)")

LDIF = """dn: {s}
objectClass: dcObject
objectClass: organization
o: School
dc: school

dn: ou=people,{s}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{s}
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,{s}
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Teacher
userPassword: teach-secret

dn: uid=bob,ou=people,{s}
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Pupil
userPassword: pupil-secret

dn: uid=carol,ou=people,{s}
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: Teacher
userPassword: carol-secret

dn: cn=reader,{s}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: reader-secret

dn: cn=teachers,ou=groups,{s}
objectClass: groupOfNames
cn: teachers
member: uid=alice,ou=people,{s}
member: uid=carol,ou=people,{s}

dn: cn=pupils,ou=groups,{s}
objectClass: groupOfNames
cn: pupils
member: uid=bob,ou=people,{s}
""".format(s=SUFFIX)

# Anonymous clients may only bind; bound users read everything but
# passwords: the search-then-bind mode needs its service account.
# bind_anon_dn: the server accepts an "unauthenticated bind" (a DN with an
# empty password, RFC 4513 §5.1.2) as many directories do: the proxy must
# refuse empty passwords itself.
SLAPD_CONF = """include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
allow bind_anon_dn
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "{s}"
rootdn "cn=admin,{s}"
rootpw admin-secret
directory {d}/data
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Slapd:
    """slapd in the foreground (-d 0) on 127.0.0.1:port, config and data in `directory`."""

    def __init__(self, directory, pki=None):
        self.dir = directory
        self.port = free_port()
        self.tls_port = free_port() if pki else None
        self.proc = None
        os.makedirs(os.path.join(directory, "data"))
        self.conf = os.path.join(directory, "slapd.conf")
        with open(self.conf, "w") as f:
            f.write(SLAPD_CONF.format(d=directory, s=SUFFIX))
            if pki:  # StartTLS on the ldap:// port, and an ldaps:// port
                f.write("TLSCACertificateFile {p}/ca.crt\nTLSCertificateFile {p}/server.crt\n"
                        "TLSCertificateKeyFile {p}/server.key\n".format(p=pki))
        ldif = os.path.join(directory, "school.ldif")
        with open(ldif, "w") as f:
            f.write(LDIF)
        r = subprocess.run([SLAPADD, "-f", self.conf, "-l", ldif], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        self.start()

    @property
    def uri(self):
        return "ldap://127.0.0.1:%d" % self.port

    def start(self, deadline=15.0):
        self.log = open(os.path.join(self.dir, "slapd.log"), "ab")
        urls = self.uri + "/"
        if self.tls_port:
            urls += " ldaps://127.0.0.1:%d/" % self.tls_port
        # -d 256: loglevel stats, one line per operation ("conn=1001 op=0 BIND
        # dn=..."), read by operations().
        self.proc = subprocess.Popen(
            [SLAPD, "-d", "256", "-f", self.conf, "-h", urls],
            stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + deadline
        while True:
            assert self.proc.poll() is None, open(os.path.join(self.dir, "slapd.log")).read()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > end:
                    raise TimeoutError("slapd did not listen on %d" % self.port)
                time.sleep(0.05)  # polling a port with a deadline

    def operations(self):
        """{conn: ([verb of each operation, in order], closed)} from the stats log."""
        conns = {}
        with open(os.path.join(self.dir, "slapd.log"), errors="replace") as f:
            for line in f:
                m = re.search(r"conn=(\d+) (?:op=(\d+) (BIND|SRCH|UNBIND|EXT|CMP|MOD|ADD|DEL)\b"
                              r"|fd=\d+ (closed))", line)
                if not m:
                    continue
                ops, closed = conns.setdefault(int(m.group(1)), ({}, [False]))
                if m.group(4):
                    closed[0] = True
                else:
                    ops.setdefault(int(m.group(2)), m.group(3))
        return {c: ([ops[k] for k in sorted(ops)], closed[0]) for c, (ops, closed) in conns.items()}

    def wait_connection(self, seen, deadline=10.0):
        """The verbs of the one connection after `seen` (conn ids), once it is closed."""
        end = time.monotonic() + deadline
        while True:
            new = {c: v for c, v in self.operations().items() if c not in seen}
            if new and all(closed for _, closed in new.values()):
                assert len(new) == 1, new
                return list(new.values())[0][0]
            if time.monotonic() > end:
                raise TimeoutError("no closed LDAP connection; got %r" % new)
            time.sleep(0.05)  # slapd's log file, polled with a deadline

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # in case a test stalled it
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def slapd(tmp_path):
    server = Slapd(str(tmp_path / "slapd"))
    yield server
    server.stop()


def ldap_config(origin_port, tmp, ldap):
    text = base_config([origin_port], log_dir=tmp, extra="""
[auth]
realm = "Test School"
cache_ttl = "1h"
max_failures = 50

[auth.ldap]
%s
""" % ldap)
    # Logins on the plain port (the TLS port is test_auth's subject).
    text = text.replace('local = ["127.0.0.1/32"]',
                        'local = { cidrs = ["127.0.0.1/32"], plaintext_auth = true }')
    # Only teachers reach the origin; pupils are refused outright.
    return text.replace('allow = { from = "local", to = "origin" }',
                        'deny = { from = "local", users = ["group:pupils"] }\n'
                        '[[rule]]\nname = "teachers"\n'
                        'allow = { from = "local", to = "origin", users = ["group:teachers"] }')


DIRECT = """uri = "%s"
user_dn = "uid={user},ou=people,dc=school,dc=example"
group_base = "ou=groups,dc=school,dc=example"
timeout = "1s"
"""


@pytest.fixture
def direct_proxy(origin, slapd, tmp_path, started):
    proxy = Proxy(ldap_config(origin.port, str(tmp_path), DIRECT % slapd.uri),
                  tmpdir=str(tmp_path))
    started.append(proxy)
    return proxy


def fetch(proxy, url, user=None):
    args = ["-x", proxy.url, "-o", "/dev/null", "-w", "%{http_code}", url]
    if user is not None:
        args += ["--proxy-user", user]
    r = curl(args)
    return r.stdout.decode().strip()


def test_direct_bind_groups_and_wrong_passwords(origin, slapd, direct_proxy):
    proxy = direct_proxy
    url = "http://127.0.0.1:%d/size/100" % origin.port
    assert fetch(proxy, url, "alice:teach-secret") == "200"
    assert fetch(proxy, url, "bob:pupil-secret") == "403"  # group:pupils from the directory
    assert fetch(proxy, url) == "407"
    assert fetch(proxy, url, "alice:wrong") == "407"
    assert fetch(proxy, url, "nobody:teach-secret") == "407"
    # slapd accepts a DN with an empty password (bind_anon_dn): the proxy must not ask it.
    assert fetch(proxy, url, "alice:") == "407"
    lines = proxy.access_lines(6)
    assert [x["status"] for x in lines] == [200, 403, 407, 407, 407, 407]
    assert lines[0]["user"] == "alice" and lines[1]["user"] == "bob"
    assert [x["user"] for x in lines[2:]] == [None] * 4
    text = open(os.path.join(proxy.tmp, "access.log")).read() + "\n".join(proxy.lines)
    assert "teach-secret" not in text and "pupil-secret" not in text
    # /status: per-user counts, names only.
    status = status_json(proxy)
    assert status["user_totals"]["alice"]["requests"] == 1
    assert status["user_totals"]["alice"]["bytes"] > 100
    bob = status["user_totals"]["bob"]
    assert bob["requests"] == 1 and bob["denials"] == 1
    assert "secret" not in json.dumps(status)
    code, _, text = admin_get(proxy, "/status?format=text")
    assert code == 200 and b"bob 1 req" in text and b"1 denied" in text
    code, _, page = admin_get(proxy, "/")
    assert code == 200 and b'id="users"' in page
    proxy.finish()


def test_cached_login_survives_slapd_down_and_recovery(origin, slapd, direct_proxy):
    proxy = direct_proxy
    url = "http://127.0.0.1:%d/size/10" % origin.port
    assert fetch(proxy, url, "alice:teach-secret") == "200"
    slapd.stop()
    # Cached: no directory needed within cache_ttl (groups included).
    assert fetch(proxy, url, "alice:teach-secret") == "200"
    # Not cached: a clear 503, not a 407 that would make the browser ask again.
    t0 = time.monotonic()
    assert fetch(proxy, url, "carol:carol-secret") == "503"
    assert time.monotonic() - t0 < 5
    ev = proxy.wait_event("ldap_unavailable")
    assert "Can't contact LDAP server" in ev["error"]
    assert fetch(proxy, url, "carol:carol-secret") == "503"
    rec = proxy.access_lines(4)[-1]
    assert rec["termination"] == "auth_unavailable" and rec["user"] is None
    # Logged once per change, not per login.
    assert sum(1 for e in proxy.events if e.get("event") == "ldap_unavailable") == 1
    slapd.start()
    assert fetch(proxy, url, "carol:carol-secret") == "200"
    proxy.wait_event("ldap_recovered")
    proxy.finish()


def test_stalled_server_times_out_and_loop_keeps_serving(origin, slapd, direct_proxy):
    proxy = direct_proxy
    url = "http://127.0.0.1:%d/size/10" % origin.port
    slapd.proc.send_signal(signal.SIGSTOP)  # accepts TCP (the kernel does), never answers
    try:
        result = {}
        import threading
        t = threading.Thread(target=lambda: result.update(code=fetch(proxy, url, "alice:teach-secret")))
        t0 = time.monotonic()
        t.start()
        # While a pool thread waits on the stalled server, the worker's loop answers.
        assert fetch(proxy, url) == "407"
        t.join(30)
        assert result["code"] == "503"
        assert time.monotonic() - t0 < 10  # timeout = "1s": a few steps, never forever
    finally:
        slapd.proc.send_signal(signal.SIGCONT)
    assert fetch(proxy, url, "alice:teach-secret") == "200"
    proxy.finish()


SEARCH = """uri = "%s"
search_base = "dc=school,dc=example"
search_filter = "(&(objectClass=inetOrgPerson)(uid={user}))"
bind_dn = "cn=reader,dc=school,dc=example"
bind_password_file = "%s"
group_base = "ou=groups,dc=school,dc=example"
group_filter = "(&(objectClass=groupOfNames)(member={dn}))"
"""


def test_search_then_bind_with_service_account(origin, slapd, tmp_path, started):
    pw = tmp_path / "bindpw"
    pw.write_text("reader-secret\n")
    proxy = Proxy(ldap_config(origin.port, str(tmp_path), SEARCH % (slapd.uri, pw)),
                  tmpdir=str(tmp_path))
    started.append(proxy)
    url = "http://127.0.0.1:%d/size/10" % origin.port
    assert fetch(proxy, url, "carol:carol-secret") == "200"
    assert fetch(proxy, url, "bob:pupil-secret") == "403"
    assert fetch(proxy, url, "carol:wrong") == "407"
    # A filter injection: were it pasted into the filter unescaped, it would
    # match every person. It matches none (and is not a user name at all).
    assert fetch(proxy, url, "*)(uid=*:teach-secret") == "407"
    assert fetch(proxy, url, "*:teach-secret") == "407"
    lines = proxy.access_lines(5)
    assert [x["user"] for x in lines] == ["carol", "bob", None, None, None]
    proxy.finish()


def test_wrong_service_password_is_unavailable_not_a_failed_login(origin, slapd, tmp_path,
                                                                   started):
    pw = tmp_path / "bindpw"
    pw.write_text("not-the-password\n")
    proxy = Proxy(ldap_config(origin.port, str(tmp_path), SEARCH % (slapd.uri, pw)),
                  tmpdir=str(tmp_path))
    started.append(proxy)
    url = "http://127.0.0.1:%d/size/10" % origin.port
    assert fetch(proxy, url, "carol:carol-secret") == "503"
    ev = proxy.wait_event("ldap_unavailable")
    assert "service bind" in ev["error"] and "not-the-password" not in ev["error"]
    proxy.finish()


def test_start_tls_and_ldaps_verify_the_server_certificate(origin, tmp_path, started):
    from test_tls_port import tls_init
    pki, other = str(tmp_path / "pki"), str(tmp_path / "other-ca")
    tls_init(pki, name="ldap.test")  # server pair for 127.0.0.1, signed by pki/ca.crt
    tls_init(other, name="elsewhere.test")
    server = Slapd(str(tmp_path / "slapd"), pki=pki)
    try:
        url = "http://127.0.0.1:%d/size/10" % origin.port
        base = DIRECT % server.uri
        for n, ldap in enumerate([
                base + 'start_tls = true\nca_file = "%s/ca.crt"\n' % pki,
                base.replace(server.uri, "ldaps://127.0.0.1:%d" % server.tls_port) +
                'ca_file = "%s/ca.crt"\n' % pki]):
            d = tmp_path / ("p%d" % n)
            d.mkdir()
            proxy = Proxy(ldap_config(origin.port, str(d), ldap), tmpdir=str(d))
            started.append(proxy)
            assert fetch(proxy, url, "alice:teach-secret") == "200"
            proxy.finish()
        # A CA that did not sign the server's certificate: no login, a clear error.
        d = tmp_path / "wrong-ca"
        d.mkdir()
        proxy = Proxy(ldap_config(origin.port, str(d), base + 'start_tls = true\nca_file = '
                                  '"%s/ca.crt"\n' % other), tmpdir=str(d))
        started.append(proxy)
        assert fetch(proxy, url, "alice:teach-secret") == "503"
        assert "StartTLS" in proxy.wait_event("ldap_unavailable")["error"]
        proxy.finish()
    finally:
        server.stop()


def refused_login(proxy, slapd, url, credentials, n):
    """The `n`th request: a login the proxy refuses. Its 407 (status line,
    headers but Date, body), its access record and the verbs of the LDAP
    connection the check opened."""
    seen = set(slapd.operations())
    r = curl(["-x", proxy.url, "-s", "-i", "--proxy-user", credentials, url])
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    head = [h for h in head.split(b"\r\n") if not h.lower().startswith(b"date:")]
    record = proxy.access_lines(n)[-1]
    record = {k: record.get(k) for k in ("status", "termination", "error", "rule", "user",
                                         "decision")}
    return head, body, record, slapd.wait_connection(seen)


@pytest.mark.parametrize("mode", ["search", "direct"])
def test_missing_user_costs_what_a_wrong_password_costs(origin, slapd, tmp_path, started, mode):
    # A search that found nobody used to answer without the bind a wrong
    # password costs: one round trip less, which a client could time to
    # learn which names exist. Now both cost the same operations, and
    # nothing the client or the access log sees tells them apart.
    pw = tmp_path / "bindpw"
    pw.write_text("reader-secret\n")
    ldap = SEARCH % (slapd.uri, pw) if mode == "search" else DIRECT % slapd.uri
    proxy = Proxy(ldap_config(origin.port, str(tmp_path), ldap), tmpdir=str(tmp_path))
    started.append(proxy)
    url = "http://127.0.0.1:%d/size/10" % origin.port
    wrong = refused_login(proxy, slapd, url, "carol:wrong", 1)
    missing = refused_login(proxy, slapd, url, "nobody:wrong", 2)
    expected = ["BIND", "SRCH", "BIND", "UNBIND"] if mode == "search" else ["BIND", "UNBIND"]
    assert wrong[3] == expected
    assert missing[3] == expected
    assert wrong[0][0].startswith(b"HTTP/1.1 407")
    assert missing[:3] == wrong[:3]
    assert wrong[2]["user"] is None and wrong[2]["termination"] == "auth_required"
    # A right password, for comparison: the user's bind, then its groups.
    seen = set(slapd.operations())
    assert fetch(proxy, url, "carol:carol-secret") == "200"
    assert slapd.wait_connection(seen) == expected[:-1] + ["SRCH", "UNBIND"]
    assert not [e for e in proxy.events if e.get("event", "").startswith("ldap_")]
    proxy.finish()


def explain(config_path, url, user):
    return subprocess.run([BIN, "explain", "-c", str(config_path),
                           "--from", "127.0.0.1", "--to", url, "--user", user],
                          capture_output=True, text=True, timeout=60)


STAFF = '\n[groups]\nstaff = ["carol"]\n'


def test_explain_user_reads_groups_with_the_service_account(origin, slapd, tmp_path):
    pw = tmp_path / "bindpw"
    pw.write_text("reader-secret\n")
    path = tmp_path / "p.toml"
    path.write_text(ldap_config(origin.port, str(tmp_path), SEARCH % (slapd.uri, pw)) + STAFF)
    url = "http://127.0.0.1:%d/" % origin.port
    # carol is a teacher only in the directory: [groups] alone would deny her.
    r = explain(path, url, "carol")
    assert r.returncode == 0, r.stdout + r.stderr
    assert ("directory entry: uid=carol,ou=people,dc=school,dc=example (found by search_filter"
            in r.stdout)
    assert ("groups from the directory (read with the service account "
            "cn=reader,dc=school,dc=example;" in r.stdout)
    assert "user: carol (groups: staff teachers)" in r.stdout
    assert "ALLOW by teachers" in r.stdout
    r = explain(path, url, "bob")
    assert r.returncode == 1 and "user: bob (groups: pupils)" in r.stdout, r.stdout + r.stderr
    r = explain(path, url, "nobody")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "directory: no such user in the directory" in r.stdout
    assert "this user cannot log in" in r.stdout
    # The same escaping as a login: an injection finds nobody.
    r = explain(path, url, "*")
    assert "this user cannot log in" in r.stdout and "groups: " not in r.stdout
    # The directory down: no decision on fewer groups, exit 2 and why.
    slapd.stop()
    r = explain(path, url, "carol")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "cannot read the groups of 'carol' from the directory" in r.stderr
    assert "Can't contact LDAP server" in r.stderr
    assert "ALLOW" not in r.stdout and "DENY" not in r.stdout


def test_explain_user_with_user_dn(origin, slapd, tmp_path):
    url = "http://127.0.0.1:%d/" % origin.port
    # No bind_dn: the group search is anonymous, which this slapd refuses
    # (only bound users read): explain says it cannot know, never "no groups".
    path = tmp_path / "anon.toml"
    path.write_text(ldap_config(origin.port, str(tmp_path), DIRECT % slapd.uri))
    r = explain(path, url, "alice")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "read anonymously (no bind_dn)" in r.stderr and "group search" in r.stderr
    # With a service account (used by explain only: logins bind as the user).
    pw = tmp_path / "bindpw"
    pw.write_text("reader-secret\n")
    path = tmp_path / "svc.toml"
    path.write_text(ldap_config(origin.port, str(tmp_path), DIRECT % slapd.uri + (
        'bind_dn = "cn=reader,dc=school,dc=example"\nbind_password_file = "%s"\n' % pw)))
    r = explain(path, url, "alice")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "directory entry: uid=alice,ou=people,dc=school,dc=example (from user_dn" in r.stdout
    assert "user: alice (groups: teachers)" in r.stdout

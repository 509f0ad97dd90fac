"""Proxy authentication ([auth], RFC 9110 §11.7.1) and users/groups in
rules, with real clients: curl through the TLS proxy port with
--proxy-user, a users file made by real `htpasswd -B` and by
`portcullis passwd`; wrong and missing credentials, credentials on the
plain port, brute force (rate-limited, then blocked).
"""
import json
import os
import signal
import socket
import subprocess

import pytest

from harness import BIN, Proxy, base_config, curl
from test_observability import status_json
from test_tls_port import tls_init, tls_port

SECRET = "correct horse"


def make_users(tmp):
    path = os.path.join(tmp, "users")
    r = subprocess.run(["htpasswd", "-B", "-b", "-c", path, "alice", SECRET],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([BIN, "passwd", path, "bob"], input="pupil-pass\n",
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = open(path).read().splitlines()
    assert lines[0].startswith("alice:$2y$") and lines[1].startswith("bob:$y$")
    return path


def auth_config(origin_port, tmp, plaintext=False, extra=""):
    pki = os.path.join(tmp, "pki")
    if not os.path.exists(pki):
        tls_init(pki)
    users = make_users(tmp) if not os.path.exists(os.path.join(tmp, "users")) else \
        os.path.join(tmp, "users")
    text = base_config([origin_port], log_dir=tmp, extra="""
[auth]
users_file = "%s"
realm = "Test School"
max_failures = 3

[abuse]
refusals_to_block = 8

[groups]
teachers = ["alice"]
pupils = ["bob"]
%s""" % (users, extra))
    text = text.replace(
        'listen = ["127.0.0.1:0"]\n',
        'listen = ["127.0.0.1:0"]\nlisten_tls = ["127.0.0.1:0"]\n'
        'tls_certificate = "%s/server.crt"\ntls_key = "%s/server.key"\n' % (pki, pki), 1)
    # Only teachers reach the origin.
    text = text.replace('allow = { from = "local", to = "origin" }',
                        'allow = { from = "local", to = "origin", users = ["group:teachers"] }')
    if plaintext:
        text = text.replace('local = ["127.0.0.1/32"]',
                            'local = { cidrs = ["127.0.0.1/32"], plaintext_auth = true }')
    return text


@pytest.fixture
def auth_proxy(origin, tmp_path, started):
    proxy = Proxy(auth_config(origin.port, str(tmp_path)), tmpdir=str(tmp_path))
    started.append(proxy)
    return proxy, tls_port(proxy), str(tmp_path / "pki")


def tls_curl(port, pki, args, user=None):
    cmd = ["--proxy", "https://127.0.0.1:%d" % port, "--proxy-cacert", pki + "/ca.crt",
           "-o", "/dev/null", "-D", "-", "-w", "%{http_code}"]
    if user:
        cmd += ["--proxy-user", user]
    return curl(cmd + args)


def code_of(r):
    return r.stdout.decode().rsplit("\n", 1)[-1].strip()


def test_teacher_get_and_connect_through_tls(origin, auth_proxy):
    proxy, port, pki = auth_proxy
    url = "http://127.0.0.1:%d/size/1024" % origin.port
    r = tls_curl(port, pki, [url], user="alice:" + SECRET)
    assert code_of(r) == "200", r.stdout + r.stderr
    r = tls_curl(port, pki, ["-p", url], user="alice:" + SECRET)
    assert code_of(r) == "200", r.stdout + r.stderr
    # The origin never sees the credentials.
    assert all("Proxy-Authorization" not in q["headers"] for q in origin.httpd.requests)
    lines = proxy.access_lines(2)
    assert [x["user"] for x in lines] == ["alice", "alice"]
    assert SECRET not in open(os.path.join(proxy.tmp, "access.log")).read()
    status = status_json(proxy)
    assert status["users"] == {"alice": 2}
    assert SECRET not in json.dumps(status)
    proxy.finish()


def test_explain_user(origin, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(auth_config(origin.port, str(tmp_path)))
    url = "http://127.0.0.1:%d/" % origin.port

    def explain(*extra):
        return subprocess.run([BIN, "explain", "-c", str(path), "--from", "127.0.0.1", "--to",
                               url] + list(extra), capture_output=True, text=True)
    r = explain("--user", "alice")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "user: alice (groups: teachers)" in r.stdout
    r = explain("--user", "bob")
    assert r.returncode == 1 and "user: bob (groups: pupils)" in r.stdout
    r = explain()
    assert r.returncode == 1
    assert "user: none" in r.stdout and "a rule for logged-in users would allow it" in r.stdout
    r = explain("--user", "zed")
    assert "not in the users file" in r.stdout


def test_pupil_403_anonymous_407_wrong_password_407(origin, auth_proxy):
    proxy, port, pki = auth_proxy
    url = "http://127.0.0.1:%d/size/10" % origin.port
    r = tls_curl(port, pki, [url], user="bob:pupil-pass")
    assert code_of(r) == "403"
    r = tls_curl(port, pki, [url])
    assert code_of(r) == "407"
    assert 'Proxy-Authenticate: Basic realm="Test School"' in r.stdout.decode()
    r = tls_curl(port, pki, [url], user="alice:wrong")
    assert code_of(r) == "407"
    r = tls_curl(port, pki, [url], user="nobody:wrong")
    assert code_of(r) == "407"
    lines = proxy.access_lines(4)
    assert [x["status"] for x in lines] == [403, 407, 407, 407]
    assert [x["termination"] for x in lines] == ["denied_by_rule"] + ["auth_required"] * 3
    assert lines[0]["user"] == "bob" and lines[1]["user"] is None
    logs = open(os.path.join(proxy.tmp, "access.log")).read() + "\n".join(proxy.lines)
    assert "wrong" not in [w for x in lines for w in json.dumps(x).split('"')]
    assert "pupil-pass" not in logs
    proxy.finish()


def test_credentials_on_the_plain_port_are_refused(origin, auth_proxy):
    proxy, _, _ = auth_proxy
    url = "http://127.0.0.1:%d/size/10" % origin.port
    r = curl(["-x", proxy.url, "--proxy-user", "alice:" + SECRET, "-w", "%{http_code}", url])
    body = r.stdout.decode()
    assert body.endswith("403")
    assert "TLS port" in body
    line = proxy.access_lines(1)[0]
    assert line["rule"] == "auth:plaintext" and line["status"] == 403
    proxy.finish()


def test_plaintext_auth_source_set(origin, tmp_path, started):
    text = auth_config(origin.port, str(tmp_path), plaintext=True)
    path = tmp_path / "v.toml"
    path.write_text(text)
    v = subprocess.run([BIN, "validate", "-c", str(path)], capture_output=True, text=True)
    assert v.returncode == 0
    assert "plaintext_auth = true" in v.stdout + v.stderr
    proxy = Proxy(text, tmpdir=str(tmp_path))
    started.append(proxy)
    url = "http://127.0.0.1:%d/size/10" % origin.port
    r = curl(["-x", proxy.url, "--proxy-user", "alice:" + SECRET, "-o", "/dev/null",
              "-w", "%{http_code}", url])
    assert r.stdout.decode() == "200"
    proxy.finish()


def test_brute_force_is_rate_limited_then_blocked(origin, auth_proxy):
    proxy, port, pki = auth_proxy
    url = "http://127.0.0.1:%d/size/10" % origin.port
    codes = []
    for i in range(12):
        r = tls_curl(port, pki, [url], user="alice:guess%d" % i)
        codes.append(code_of(r))
    assert codes[:3] == ["407"] * 3
    assert codes[3] == "429"
    assert codes[-1] == "000"  # blocked: closed at accept
    proxy.wait_event("client_blocked")
    # Even the right password is refused now.
    r = tls_curl(port, pki, [url], user="alice:" + SECRET)
    assert code_of(r) == "000"
    proxy.finish()


def test_unsupported_hash_is_a_config_error(origin, tmp_path):
    users = tmp_path / "users"
    text = auth_config(origin.port, str(tmp_path))
    path = tmp_path / "v.toml"
    path.write_text(text)
    # auth_config made alice and bob; an MD5-crypt (htpasswd -m) line 3.
    with open(users, "a") as f:
        f.write(subprocess.run(["htpasswd", "-n", "-b", "-m", "carol", "x"], capture_output=True,
                               text=True).stdout.strip() + "\n")
    v = subprocess.run([BIN, "validate", "-c", str(path)], capture_output=True, text=True)
    assert v.returncode != 0
    assert "%s:3:1: error: user 'carol' has MD5-crypt hash" % users in v.stdout + v.stderr


@pytest.mark.parametrize("users,message", [
    ('"bad name"', "21:51: error: 'bad name' is not a user name"),
    ('"group:staff"', "19:1: error: rule 'local-to-origin' names users, but [auth] users_file "
                      "is not set"),
    ('"group:staff"', "19:1: error: rule 'local-to-origin' names group:staff, which [groups] "
                      "does not define"),
])
def test_rule_users_need_auth_and_known_groups(origin, tmp_path, users, message):
    text = base_config([origin.port]).replace(
        'allow = { from = "local", to = "origin" }',
        'allow = { from = "local", to = "origin", users = [%s] }' % users)
    path = tmp_path / "v.toml"
    path.write_text(text)
    v = subprocess.run([BIN, "validate", "-c", str(path)], capture_output=True, text=True)
    assert v.returncode != 0
    assert "%s:%s" % (path, message) in v.stdout + v.stderr


def test_a_changed_password_applies_after_reload_despite_the_login_cache(origin, auth_proxy):
    proxy, port, pki = auth_proxy
    url = "http://127.0.0.1:%d/size/10" % origin.port
    assert code_of(tls_curl(port, pki, [url], user="alice:" + SECRET)) == "200"  # now cached
    users = os.path.join(proxy.tmp, "users")
    r = subprocess.run([BIN, "passwd", users, "alice", "--bcrypt"], input="new-secret\n",
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    seen = len(proxy.events)
    proxy.signal(signal.SIGHUP)
    proxy.wait_event("reload", seen=seen)
    assert code_of(tls_curl(port, pki, [url], user="alice:" + SECRET)) == "407"
    assert code_of(tls_curl(port, pki, [url], user="alice:new-secret")) == "200"
    proxy.finish()

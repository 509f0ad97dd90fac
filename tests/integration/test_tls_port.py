"""The TLS proxy port ([server] listen_tls): real curl speaking to an
https:// proxy, everything of the plain port inside TLS (absolute-form,
keep-alive, CONNECT with the tunnel nested in TLS), `portcullis tls init`,
and the certificate pair reloaded on SIGHUP (a bad pair keeps the old one).
"""
import hashlib
import os
import signal
import socket
import ssl
import subprocess

import pytest

from harness import BIN, Proxy, base_config, curl
from origin import body_of_size


def tls_init(directory, name="proxy.test"):
    proc = subprocess.run([BIN, "tls", "init", directory, "--name", name, "--ip-loopback"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def tls_config(origin_port, pki, tmp, extra=""):
    text = base_config([origin_port], log_dir=tmp, extra=extra)
    return text.replace(
        'listen = ["127.0.0.1:0"]\n',
        'listen = ["127.0.0.1:0"]\nlisten_tls = ["127.0.0.1:0"]\n'
        'tls_certificate = "%s/server.crt"\ntls_key = "%s/server.key"\n' % (pki, pki), 1)


def tls_port(proxy):
    ready = proxy.wait_event("ready")
    return int(ready["listen_tls"].split()[0].rsplit(":", 1)[1])


@pytest.fixture
def tls_proxy(origin, tmp_path, started):
    pki = str(tmp_path / "pki")
    tls_init(pki)
    proxy = Proxy(tls_config(origin.port, pki, str(tmp_path)), tmpdir=str(tmp_path))
    started.append(proxy)
    return proxy, tls_port(proxy), pki


def via_tls(port, pki, args):
    return curl(["--proxy", "https://127.0.0.1:%d" % port, "--proxy-cacert",
                 pki + "/ca.crt"] + args)


def test_tls_init_prints_trust_steps_and_config(tmp_path):
    out = tls_init(str(tmp_path / "pki"), name="proxy.school.example")
    for needle in ("update-ca-certificates", "certutil", "security add-trusted-cert",
                   "Firefox", "listen_tls", "tls_certificate", "tls_key"):
        assert needle in out
    text = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "pki/server.crt"),
                           "-noout", "-text"], capture_output=True, text=True).stdout
    assert "DNS:proxy.school.example" in text and "IP Address:127.0.0.1" in text
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "pki/ca.crt"),
                             str(tmp_path / "pki/server.crt")], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert oct(os.stat(tmp_path / "pki/server.key").st_mode & 0o777) == "0o600"
    # Never overwrites.
    again = subprocess.run([BIN, "tls", "init", str(tmp_path / "pki"), "--name", "x"],
                           capture_output=True, text=True)
    assert again.returncode != 0 and "already exists" in again.stderr


def test_get_keepalive_and_connect_inside_tls(origin, tls_proxy):
    proxy, port, pki = tls_proxy
    url = "http://127.0.0.1:%d/size/1024" % origin.port
    r = via_tls(port, pki, ["-v", "-o", "/dev/null", "-o", "/dev/null", url, url])
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode()
    assert err.count("< HTTP/1.1 200") == 2
    assert "Re-using existing connection" in err  # keep-alive inside one TLS session
    assert err.count("SSL connection using TLSv1.3") == 1
    # CONNECT, the tunnel nested in the proxy's TLS; a body larger than the
    # tunnel's chunk checks backpressure and order.
    big = 3 * 1024 * 1024
    r = via_tls(port, pki, ["-p", "http://127.0.0.1:%d/size/%d" % (origin.port, big)])
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).digest() == hashlib.sha256(
        body_of_size(big)).digest()
    lines = proxy.access_lines(3)
    assert any(x["method"] == "CONNECT" and x["status"] == 200 for x in lines)
    proxy.finish()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_only_tls12_and_up(tls_proxy):
    _, port, pki = tls_proxy
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki + "/ca.crt")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1  # noqa: deprecated on purpose
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with pytest.raises(ssl.SSLError):
            ctx.wrap_socket(s, server_hostname="127.0.0.1")


def handshake_issuer(port, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return dict(x[0] for x in t.getpeercert()["issuer"])["commonName"]


def test_reload_swaps_the_pair_and_a_bad_pair_keeps_the_old(tmp_path, tls_proxy):
    proxy, port, pki = tls_proxy
    assert handshake_issuer(port, pki + "/ca.crt") == "Portcullis local CA for proxy.test"
    # A key that does not match the certificate: the reload fails, old pair stays.
    other = str(tmp_path / "other")
    tls_init(other, name="other.test")
    text = open(proxy.config_path).read()
    with open(proxy.config_path, "w") as f:
        f.write(text.replace(pki + "/server.key", other + "/server.key"))
    seen = len(proxy.events)
    proxy.signal(signal.SIGHUP)
    failed = proxy.wait_event("reload_failed", seen=seen)
    assert "tls_key" in failed["diagnostics"] and "mismatch" in failed["diagnostics"]
    assert "previous certificate stays in use" in failed["diagnostics"]
    assert handshake_issuer(port, pki + "/ca.crt") == "Portcullis local CA for proxy.test"
    # A good new pair: new handshakes use it.
    with open(proxy.config_path, "w") as f:
        f.write(text.replace(pki + "/", other + "/"))
    seen = len(proxy.events)
    proxy.signal(signal.SIGHUP)
    proxy.wait_event("reload", seen=seen)
    assert handshake_issuer(port, other + "/ca.crt") == "Portcullis local CA for other.test"
    proxy.finish()


def test_validate_needs_the_pair(origin, tmp_path):
    text = base_config([origin.port]).replace(
        'listen = ["127.0.0.1:0"]\n', 'listen = ["127.0.0.1:0"]\nlisten_tls = ["127.0.0.1:0"]\n', 1)
    path = tmp_path / "p.toml"
    path.write_text(text)
    r = subprocess.run([BIN, "validate", "-c", str(path)], capture_output=True, text=True)
    assert r.returncode != 0
    assert "'listen_tls' needs 'tls_certificate' and 'tls_key'" in r.stdout + r.stderr


def test_validate_loads_the_pair(origin, tmp_path):
    pki = str(tmp_path / "pki")
    tls_init(pki)
    other = str(tmp_path / "other")
    tls_init(other)
    path = tmp_path / "p.toml"
    path.write_text(tls_config(origin.port, pki, str(tmp_path)))
    r = subprocess.run([BIN, "validate", "-c", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    path.write_text(tls_config(origin.port, pki, str(tmp_path)).replace(
        pki + "/server.key", other + "/server.key"))
    r = subprocess.run([BIN, "validate", "-c", str(path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "error: TLS proxy port: tls_key" in r.stderr

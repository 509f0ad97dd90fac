"""Portcullis as a system daemon: the Debian package, the systemd unit, and
the privilege drop of `portcullis run` started as root.

The .deb is built from the build tree under test with CPack. It is installed
only inside a private mount namespace whose /etc, /var, /usr (and /run) are
throwaway overlays, so the machine running the tests is never modified.
Tools missing here are installed by `packaging/build-deps.sh --test`.
"""
import gzip
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

BIN = os.path.abspath(os.environ.get("PORTCULLIS_BIN", "build/portcullis"))
SOURCE_DIR = os.path.abspath(os.environ.get("PORTCULLIS_SOURCE_DIR",
                                            os.path.join(os.path.dirname(__file__), "../..")))
BUILD_DIR = os.path.dirname(BIN)
UNIT = os.path.join(SOURCE_DIR, "packaging", "portcullis.service")
MAX_EXPOSURE = 2.0


def need(*tools):
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"'{tool}' is not installed (packaging/build-deps.sh --test installs it)")


def need_root(why):
    if os.geteuid() != 0:
        pytest.skip(f"needs root: {why}")


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


# --- the package ----------------------------------------------------------------

@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    need("cpack", "dpkg-deb", "dpkg-shlibdeps", "file")
    config = os.path.join(BUILD_DIR, "CPackConfig.cmake")
    if not os.path.exists(config):
        pytest.fail(f"{config} is missing: the top-level CMakeLists.txt must add_subdirectory(packaging)")
    out = tmp_path_factory.mktemp("deb")
    run(["cpack", "-G", "DEB", "--config", config, "-B", str(out)], timeout=540)
    debs = sorted(out.glob("portcullis_*.deb"))
    assert len(debs) == 1, f"expected one .deb in {out}, got {debs}"
    return str(debs[0])


@pytest.fixture(scope="module")
def unpacked(deb, tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    run(["dpkg-deb", "-x", deb, str(root)])
    run(["dpkg-deb", "-e", deb, str(root / "DEBIAN")])
    return root


def package_paths(deb):
    listing = run(["dpkg-deb", "-c", deb]).stdout
    # "-rw-r--r-- root/root  1234 2024-01-01 00:00 ./etc/portcullis/portcullis.toml"
    paths = {}
    for line in listing.splitlines():
        fields = line.split(None, 5)
        path = fields[5].split(" -> ")[0]
        paths[path[1:].rstrip("/") or "/"] = (fields[0], fields[1])
    return paths


def test_package_holds_the_daemon_layout(deb):
    paths = package_paths(deb)
    examples = sorted(f for f in os.listdir(os.path.join(SOURCE_DIR, "etc", "examples"))
                      if not f.endswith("~"))
    want = {
        "/usr/sbin/portcullis": "-rwxr-xr-x",
        "/etc/portcullis/portcullis.toml": "-rw-r--r--",
        "/etc/logrotate.d/portcullis": "-rw-r--r--",
        "/lib/systemd/system/portcullis.service": "-rw-r--r--",
        "/usr/share/man/man8/portcullis.8.gz": "-rw-r--r--",
        "/usr/share/man/man5/portcullis.toml.5.gz": "-rw-r--r--",
        "/usr/share/doc/portcullis/copyright": "-rw-r--r--",
        "/usr/share/doc/portcullis/changelog.gz": "-rw-r--r--",
        "/usr/share/doc/portcullis/examples/low-port.conf": "-rw-r--r--",
    }
    want.update({f"/etc/portcullis/examples/{e}": "-rw-r--r--" for e in examples})
    aliases = sorted(f for f in os.listdir(os.path.join(SOURCE_DIR, "etc", "cache-aliases"))
                     if not f.endswith("~"))
    assert aliases, "etc/cache-aliases/ ships no example set"
    want.update({f"/usr/share/portcullis/cache-aliases/{a}": "-rw-r--r--" for a in aliases})
    lists = sorted(os.listdir(os.path.join(SOURCE_DIR, "etc", "safe-search")))
    assert lists, "etc/safe-search/ ships no list"
    want.update({f"/etc/portcullis/safe-search/{f}": "-rw-r--r--" for f in lists})
    want["/usr/share/portcullis/haproxy/portcullis-farm.cfg"] = "-rw-r--r--"
    for path, mode in want.items():
        assert path in paths, f"{path} missing from the package"
        assert paths[path] == (mode, "root/root"), f"{path}: {paths[path]}"


def owning_package(path):
    """The Debian package that ships `path`, trying both sides of the /usr merge."""
    candidates = [path, os.path.realpath(path)]
    for p in list(candidates):
        candidates.append(p[4:] if p.startswith("/usr/") else "/usr" + p)
    for p in candidates:
        r = run(["dpkg-query", "-S", p], check=False)
        if r.returncode == 0:
            return r.stdout.split(":")[0]
    raise AssertionError(f"no package owns {path}")


def test_control_declares_runtime_dependencies(deb, unpacked):
    need("ldd", "dpkg-query")
    fields = run(["dpkg-deb", "-f", deb, "Package", "Version", "Depends", "Section"]).stdout
    assert "Package: portcullis" in fields
    depends = re.search(r"^Depends: (.*)$", fields, re.M).group(1)
    declared = {d.strip().split()[0] for d in depends.split(",")}
    # Every shared library the binary links to (DT_NEEDED) comes from a
    # declared package (dpkg-shlibdeps, CPACK_DEBIAN_PACKAGE_SHLIBDEPS); the
    # libraries those load in turn (libsystemd0's libcap2, liblz4...) come
    # with those packages' own Depends. The maintainer scripts need adduser
    # and deb-systemd-helper.
    binary = str(unpacked / "usr/sbin/portcullis")
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]",
                            run(["readelf", "-d", binary]).stdout))
    ldd = run(["ldd", binary]).stdout
    libs = [path for name, path in re.findall(r"^\s*(\S+) => (/\S+) \(", ldd, re.M)
            if name in needed]
    assert libs and len(libs) == len(needed), (needed, ldd)
    for lib in libs:
        pkg = owning_package(lib)
        assert pkg in declared, f"{lib} comes from {pkg}, which Depends lacks: {depends}"
    assert {"adduser", "init-system-helpers", "libc6", "libsystemd0"} <= declared, depends
    version = run([BIN, "--version"]).stdout
    pkg_version = re.search(r"^Version: (.*)$", fields, re.M).group(1)
    assert pkg_version in version, f"package {pkg_version} vs binary '{version.strip()}'"


def test_every_file_under_etc_is_a_conffile(unpacked):
    conffiles = set((unpacked / "DEBIAN" / "conffiles").read_text().split())
    under_etc = {"/" + str(p.relative_to(unpacked)) for p in (unpacked / "etc").rglob("*") if p.is_file()}
    assert "/etc/portcullis/portcullis.toml" in conffiles
    assert conffiles == under_etc


def test_the_shipped_haproxy_farm_config_is_valid(unpacked):
    need("haproxy")
    cfg = unpacked / "usr/share/portcullis/haproxy/portcullis-farm.cfg"
    r = run(["haproxy", "-c", "-f", str(cfg)], check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_maintainer_scripts_create_the_user_and_parse(unpacked):
    for name in ["postinst", "prerm", "postrm"]:
        script = unpacked / "DEBIAN" / name
        assert os.access(script, os.X_OK), f"{name} is not executable"
        run(["sh", "-n", str(script)])
    postinst = (unpacked / "DEBIAN" / "postinst").read_text()
    assert "user=portcullis" in postinst and "adduser --system --group" in postinst
    assert "/var/cache/portcullis /var/log/portcullis" in postinst


def test_man_pages_are_gzip_9n_and_complete(unpacked):
    for page in ["usr/share/man/man8/portcullis.8.gz", "usr/share/man/man5/portcullis.toml.5.gz"]:
        raw = (unpacked / page).read_bytes()
        assert raw[:2] == b"\x1f\x8b"
        flags, mtime = raw[3], int.from_bytes(raw[4:8], "little")
        assert flags & 0x08 == 0 and mtime == 0, f"{page}: gzip stored a name or a timestamp (use -n)"
    man8 = gzip.decompress((unpacked / "usr/share/man/man8/portcullis.8.gz").read_bytes()).decode()
    man8 = man8.replace("\\-", "-")  # roff's escaped hyphens
    for word in ["run", "validate", "explain", "status", "audit", "cache", "SIGHUP", "SIGUSR1",
                 "SIGTERM", "--allow-root", "EXIT STATUS", "/etc/portcullis/portcullis.toml"]:
        assert word in man8, f"portcullis(8) does not mention {word}"
    man5 = gzip.decompress((unpacked / "usr/share/man/man5/portcullis.toml.5.gz").read_bytes()).decode()
    assert man5.startswith(".\\\"") and "\n.TH PORTCULLIS.TOML 5" in man5
    # The generated key reference is spliced in, not left as a placeholder.
    assert "@CONFIG_REFERENCE@" not in man5
    for key in ["max_connections", "user", "shutdown_grace", "dir", "access"]:
        assert re.search(rf"^\.B {key}$", man5, re.M), f"portcullis.toml(5) lacks key {key}"


def test_lintian_reports_no_errors(deb):
    need("lintian")
    r = run(["lintian", "--no-tag-display-limit", deb], check=False, timeout=300)
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    assert not errors, "\n".join(errors) + "\n\nfull output:\n" + r.stdout + r.stderr


def test_logrotate_config_rotates_daily_and_signals_usr1(unpacked):
    text = (unpacked / "etc/logrotate.d/portcullis").read_text()
    assert "/var/log/portcullis/" in text
    for directive in ["daily", "compress", "postrotate", "endscript", "create 0640 portcullis portcullis"]:
        assert re.search(rf"^\s*{directive}\s*$", text, re.M), f"logrotate config lacks '{directive}'"
    assert re.search(r"--signal=USR1\b", text)


def logrotate_postrotate(text):
    return text.split("postrotate", 1)[1].split("endscript", 1)[0]


def test_logrotate_falls_back_to_reopen_logs_without_systemd(tmp_path):
    # Outside systemd `systemctl kill` fails; the daemon must still be told.
    text = open(os.path.join(SOURCE_DIR, "packaging", "portcullis.logrotate")).read()
    script = logrotate_postrotate(text)
    assert re.search(r"systemctl kill --signal=USR1 .*\|\|\s*\\?\s*"
                     r"/usr/sbin/portcullis reopen-logs -c /etc/portcullis/portcullis.toml",
                     script, re.S), script
    assert "|| true" not in script  # a failure is reported by logrotate, not swallowed
    # Run the script with a systemctl that fails and a portcullis that records its call.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "systemctl").write_text("#!/bin/sh\nexit 1\n")
    (bindir / "portcullis").write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/called\n')
    for f in bindir.iterdir():
        f.chmod(0o755)
    script = script.replace("/usr/sbin/portcullis", str(bindir / "portcullis"))
    r = subprocess.run(["sh", "-c", script], env={"PATH": f"{bindir}:/usr/bin:/bin"},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "called").read_text().split() == [
        "reopen-logs", "-c", "/etc/portcullis/portcullis.toml"]


def test_package_config_writes_a_pid_file_under_the_runtime_directory():
    # The packaged /etc/portcullis/portcullis.toml (generated into the build
    # tree from etc/portcullis.toml) names the pid file that logrotate's
    # `portcullis reopen-logs` reads, in the unit's RuntimeDirectory=, and the
    # cache in its CacheDirectory=.
    import tomllib
    path = os.path.join(BUILD_DIR, "packaging", "portcullis.toml")
    run([BIN, "validate", "-c", path])
    with open(path, "rb") as f:
        conf = tomllib.load(f)
    assert conf["server"]["pid_file"] == "/run/portcullis/portcullis.pid"
    assert conf["cache"]["dir"] == "/var/cache/portcullis"
    s = unit_settings(open(UNIT).read())
    assert s["RuntimeDirectory"] == ["portcullis"] and s["CacheDirectory"] == ["portcullis"]


# --- the systemd unit -------------------------------------------------------------

def unit_settings(text):
    settings = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_runs_the_daemon_the_documented_way():
    s = unit_settings(open(UNIT).read())
    assert s["Type"] == ["notify"]
    assert s["User"] == ["portcullis"]
    assert s["ExecStartPre"] == ["/usr/sbin/portcullis validate -c /etc/portcullis/portcullis.toml"]
    assert s["ExecStart"] == ["/usr/sbin/portcullis run -c /etc/portcullis/portcullis.toml"]
    assert s["ExecReload"][-1] == "/bin/kill -HUP $MAINPID"
    assert s["CapabilityBoundingSet"] == [""]
    assert s["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert int(s["LimitNOFILE"][0]) >= 2 * 10000 + 1024  # 2 sockets per default max_connections
    for key in ["NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices",
                "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
                "ProtectControlGroups", "RestrictNamespaces", "LockPersonality",
                "MemoryDenyWriteExecute"]:
        assert s.get(key) == ["yes"], f"{key}={s.get(key)}"
    assert s["ProtectSystem"] == ["strict"]
    assert "@system-service" in s["SystemCallFilter"]


def test_unit_verifies(unpacked, tmp_path):
    need("systemd-analyze")
    # Point the unit at the packaged binary so that verify can check it exists.
    text = (unpacked / "lib/systemd/system/portcullis.service").read_text()
    unit = tmp_path / "portcullis.service"
    unit.write_text(text.replace("/usr/sbin/portcullis", str(unpacked / "usr/sbin/portcullis")))
    r = run(["systemd-analyze", "verify", "--man=no", str(unit)], check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def exposure(unit_dir):
    r = run(["systemd-analyze", "security", "--offline=true", "--no-pager", "portcullis.service"],
            check=False, cwd=unit_dir)
    m = re.search(r"Overall exposure level for portcullis\.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    return float(m.group(1))


def test_unit_security_exposure_at_most_2(tmp_path):
    need("systemd-analyze")
    shutil.copy(UNIT, tmp_path / "portcullis.service")
    score = exposure(tmp_path)
    assert score <= MAX_EXPOSURE, f"systemd-analyze security: {score}"


def test_low_port_drop_in_keeps_exposure_at_most_2(tmp_path):
    need("systemd-analyze")
    shutil.copy(UNIT, tmp_path / "portcullis.service")
    (tmp_path / "portcullis.service.d").mkdir()
    shutil.copy(os.path.join(SOURCE_DIR, "packaging/systemd/low-port.conf"),
                tmp_path / "portcullis.service.d/low-port.conf")
    score = exposure(tmp_path)
    assert score <= MAX_EXPOSURE, f"systemd-analyze security with low-port.conf: {score}"


# --- throwaway roots: private mount namespace + overlays ------------------------

OVERLAY_SH = r"""
set -e
scratch=$1; shift
mount -t tmpfs tmpfs "$scratch"
for d in $OVERLAY_DIRS; do
  [ -d "/$d" ] && [ ! -L "/$d" ] || continue
  mkdir -p "$scratch/$d.up" "$scratch/$d.work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$scratch/$d.up,workdir=$scratch/$d.work" "/$d"
done
# An empty /run: no /run/systemd/system, so maintainer scripts leave the host's systemd alone.
mount -t tmpfs tmpfs /run
exec "$@"
"""


def throwaway(dirs, cmd, scratch):
    """`cmd` in a private mount namespace where /<dirs> are overlays on tmpfs."""
    return ["unshare", "--mount", "--propagation", "private",
            "env", f"OVERLAY_DIRS={' '.join(dirs)}", "sh", "-c", OVERLAY_SH, "sh", scratch] + cmd


@pytest.fixture
def namespaces(tmp_path):
    need_root("mounts overlays in a private mount namespace")
    need("unshare")
    probe = run(throwaway(["etc"], ["true"], str(tmp_path)), check=False)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace with overlayfs here: {probe.stderr.strip()}")
    return tmp_path


INSTALL_SH = r"""
deb=$1
report() { echo "$1=$2"; }
dpkg -i "$deb" >&2 || { report install failed; exit 0; }
report install ok
report passwd "$(getent passwd portcullis)"
report group "$(getent group portcullis)"
report cache "$(stat -c %U:%G:%a /var/cache/portcullis)"
report log "$(stat -c %U:%G:%a /var/log/portcullis)"
report unit "$(test -f /lib/systemd/system/portcullis.service && echo present)"
report enabled "$(test -L /etc/systemd/system/multi-user.target.wants/portcullis.service && echo yes)"
/usr/sbin/portcullis validate -c /etc/portcullis/portcullis.toml >&2; report validate $?
if command -v logrotate >/dev/null; then
  logrotate -d /etc/logrotate.d/portcullis >&2; report logrotate $?
fi
echo "# local edit" >> /etc/portcullis/portcullis.toml
dpkg -i --force-confold "$deb" >&2; report reinstall $?
report kept_edit "$(grep -c '^# local edit$' /etc/portcullis/portcullis.toml)"
dpkg --purge portcullis >&2; report purge $?
report cache_after_purge "$(test -e /var/cache/portcullis && echo present || echo gone)"
report conf_after_purge "$(test -e /etc/portcullis/portcullis.toml && echo present || echo gone)"
report user_after_purge "$(getent passwd portcullis >/dev/null && echo kept || echo gone)"
"""


def test_package_installs_configures_and_purges_in_a_throwaway_root(deb, namespaces):
    need("dpkg")
    scratch = namespaces / "scratch"
    scratch.mkdir()
    cmd = throwaway(["etc", "var", "usr", "lib", "lib64", "bin", "sbin"],
                    ["sh", "-c", INSTALL_SH, "sh", deb], str(scratch))
    r = run(cmd, check=False, timeout=300)
    got = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert got.get("install") == "ok", r.stderr
    fields = got["passwd"].split(":")
    assert fields[0] == "portcullis" and int(fields[2]) < 1000, got["passwd"]  # a system uid
    assert fields[6] in ("/usr/sbin/nologin", "/sbin/nologin"), got["passwd"]
    assert got["group"].startswith("portcullis:")
    assert got["cache"] == "portcullis:portcullis:750"
    assert got["log"] == "portcullis:portcullis:750"
    assert got["unit"] == "present"
    assert got["enabled"] == "yes"
    assert got["validate"] == "0", r.stderr
    assert got.get("logrotate", "0") == "0", r.stderr
    assert got["reinstall"] == "0" and got["kept_edit"] == "1", r.stderr
    assert got["purge"] == "0", r.stderr
    assert got["cache_after_purge"] == "gone"
    assert got["conf_after_purge"] == "gone"
    assert got["user_after_purge"] == "kept"


# --- privilege drop of `portcullis run` started as root ------------------------------

class NotifySocket:
    """A stand-in for systemd's notify socket, in the abstract namespace (no
    file permissions to trip over once the daemon is no longer root)."""

    def __init__(self):
        self.name = f"@portcullis-test-{os.getpid()}-{time.monotonic_ns()}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])

    def wait_for(self, state, proc, deadline=20.0):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            # Drain what was sent before looking at whether the process is gone:
            # STOPPING=1 is usually queued by the time the daemon has exited.
            exited = proc.poll() is not None
            r, _, _ = select.select([self.sock], [], [], 0 if exited else 0.2)
            if r:
                msg = self.sock.recv(4096).decode()
                if state in msg.split("\n"):
                    return msg
            elif exited:
                raise AssertionError(f"portcullis exited {proc.returncode} before {state}: "
                                     f"{proc.stderr.read()}")
        raise TimeoutError(f"no {state} from portcullis")

    def close(self):
        self.sock.close()


def proc_status(pid):
    """{key: value} of /proc/PID/status for every thread of the process."""
    tasks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            tasks[tid] = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    return tasks


def write_config(tmp_path, user_line):
    conf = tmp_path / "portcullis.toml"
    conf.write_text(f"""
[server]
listen = ["127.0.0.1:0"]
workers = 2
{user_line}

[log]
events = "-"

[admin]
listen = ""

[sources]
local = ["127.0.0.1/32"]

[destinations]
nowhere = {{ cidrs = ["192.0.2.1/32"], ports = [80] }}

[[rule]]
allow = {{ from = "local", to = "nowhere" }}
""")
    os.chmod(tmp_path, 0o755)
    conf.chmod(0o644)
    return str(conf)


def listen_port(proc, deadline=10.0):
    """The port from the daemon's JSON 'ready' event on stderr."""
    end, buf = time.monotonic() + deadline, b""
    while time.monotonic() < end:
        r, _, _ = select.select([proc.stderr], [], [], 0.2)
        if r:
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            for line in buf.split(b"\n"):
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("event") == "ready":
                    return int(ev["listen"].split()[0].rsplit(":", 1)[1])
    raise TimeoutError(f"no ready event; stderr so far: {buf!r}")


USERADD_SH = r"""
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin pc-test-drop
exec "$@"
"""


@pytest.mark.parametrize("named_by", ["config", "flag"])
def test_run_as_root_drops_to_the_configured_user(namespaces, tmp_path, named_by):
    need("useradd")
    if named_by == "config":
        conf, flag = write_config(tmp_path, 'user = "pc-test-drop"'), []
    else:  # --user, as `make run` passes it when started as root
        conf, flag = write_config(tmp_path, ""), ["--user", "pc-test-drop"]
    scratch = namespaces / "scratch"
    scratch.mkdir()
    notify = NotifySocket()
    # The throwaway user exists only in this process's private /etc overlay.
    cmd = throwaway(["etc"], ["sh", "-c", USERADD_SH, "sh", BIN, "run", "-c", conf] + flag,
                    str(scratch))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, NOTIFY_SOCKET=notify.name))
    try:
        notify.wait_for("READY=1", proc)
        port = listen_port(proc)
        with open(f"/proc/{proc.pid}/root/etc/passwd") as f:
            entry = next(l for l in f if l.startswith("pc-test-drop:")).split(":")
        uid, gid = entry[2], entry[3]
        assert uid != "0"
        threads = proc_status(proc.pid)
        assert len(threads) > 1  # the workers: set*id must have reached every thread
        for tid, st in threads.items():
            assert st["Uid"].split() == [uid] * 4, f"thread {tid}: Uid {st['Uid']}"
            assert st["Gid"].split() == [gid] * 4, f"thread {tid}: Gid {st['Gid']}"
            assert st["Groups"].split() == [gid], f"thread {tid}: Groups {st['Groups']}"
            assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, st
        # no_new_privs is per thread: set on the thread that dropped and
        # inherited by the threads it starts afterwards.
        assert threads[str(proc.pid)]["NoNewPrivs"] == "1"
        # The listener bound as root still serves after the drop: a request
        # nobody is allowed to make is answered 403, not dropped.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET http://198.51.100.7/ HTTP/1.1\r\nHost: 198.51.100.7\r\n\r\n")
            assert s.recv(64).startswith(b"HTTP/1.1 403")
        proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1", proc)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()


def test_run_as_root_without_user_refuses_unless_allow_root(tmp_path):
    need_root("checks what happens when started as root")
    conf = write_config(tmp_path, "")
    r = run([BIN, "run", "-c", conf], check=False, timeout=30)
    assert r.returncode == 1
    assert "refusing to run as root" in r.stderr
    assert "--allow-root" in r.stderr

    notify = NotifySocket()
    proc = subprocess.Popen([BIN, "run", "-c", conf, "--allow-root"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=dict(os.environ, NOTIFY_SOCKET=notify.name))
    try:
        notify.wait_for("READY=1", proc)
        assert proc_status(proc.pid)[str(proc.pid)]["Uid"].split()[1] == "0"
        proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1", proc)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()


def test_make_run_drops_root_to_nobody():
    # The README's quick start is `make run`; as root the daemon would refuse
    # to serve, so the Makefile names a user to drop to after binding.
    need("make")
    cmd = ["make", "-n", "-s", "-C", SOURCE_DIR, "run"]
    lines = run(cmd, timeout=60).stdout.splitlines()
    started = [l for l in lines if " run -c etc/portcullis.toml" in l]
    assert len(started) == 1, lines
    if os.geteuid() == 0:
        assert started[0].endswith(" --user nobody"), started
    else:
        assert "--user" not in started[0], started
    other = run(cmd + ["RUN_USER=proxy"], timeout=60).stdout.splitlines()
    assert [l for l in other if " run -c " in l][0].endswith(" --user proxy")


# --- the container recipe (no container engine here: checked statically) -----------

def test_container_config_listens_everywhere_but_admits_only_the_container():
    import tomllib
    path = os.path.join(SOURCE_DIR, "packaging", "container.toml")
    run([BIN, "validate", "-c", path])
    with open(path, "rb") as f:
        conf = tomllib.load(f)
    assert conf["server"]["listen"] == ["0.0.0.0:3128"]
    assert "user" not in conf["server"]  # the image runs as 'portcullis' already
    allowed_from = {r["allow"]["from"] for r in conf["rule"] if "allow" in r}
    for name in allowed_from:
        assert set(conf["sources"][name]) <= {"127.0.0.1/32", "::1/128"}, \
            "the shipped container config must stay closed until the admin names client networks"


def test_containerfile_builds_from_the_tree_and_runs_unprivileged():
    text = open(os.path.join(SOURCE_DIR, "packaging", "Containerfile")).read()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms[0].startswith("debian:12") and froms[-1].startswith("debian:12")
    assert re.search(r"^USER portcullis", text, re.M)
    assert re.search(r"^EXPOSE 3128$", text, re.M)
    assert re.search(r'^VOLUME .*"/etc/portcullis".*"/var/cache/portcullis"', text, re.M)
    assert "packaging/container.toml /etc/portcullis/portcullis.toml" in text
    # The image's build stage installs every library build-deps.sh installs
    # (doctest only builds the tests, which the image leaves out).
    deps = open(os.path.join(SOURCE_DIR, "packaging", "build-deps.sh")).read()
    build_pkgs = re.search(r"build_pkgs=\(([^)]*)\)", deps).group(1).split()
    for pkg in build_pkgs:
        if pkg.endswith("-dev") and pkg != "doctest-dev":
            assert re.search(rf"\s{re.escape(pkg)}\s", text), f"Containerfile lacks {pkg}"
    for folder in ["acl", "cache", "daemon", "etc", "packaging"]:
        assert re.search(rf"^COPY {folder} {folder}$", text, re.M), f"{folder}/ not copied"

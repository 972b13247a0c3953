#!/usr/bin/python3
"""Compatibility suite: the Docker SDK for Python against a wharf daemon.

Drives a running `wharf daemon` through docker.DockerClient the way
programs using the SDK do, and checks what they get back: values, types,
exceptions and status codes. tests/integration/compat_sdk.bats starts a
private daemon, makes the image archive and runs one class per bats test.

Environment:
  WHARF_HOST          unix:///path/to/wharf.sock (required)
  WHARF_ARCHIVE       a docker-archive holding WHARF_IMAGE (required)
  WHARF_IMAGE         its reference (default localhost/wharf-bb:1): a
                      busybox-static root filesystem with CMD ["sh"]
  WHARF_ROOTFS_TAR    that root filesystem as a plain tar (import tests)
  WHARF_COMPAT_STRICT 1: a feature gate that is closed fails instead of
                      skipping (for when every gated feature has landed)

Run by hand:  tests/compat/sdk_test.py [-v] [Class[.test] ...]
Exit status: 0 passed, 1 failed, 77 everything selected was skipped.

Gated classes (features in progress) carry @gate(FEATURE): they run only
when a capability probe (PROBES) says the daemon serves the feature, so they
start running by themselves once it lands.
"""

import datetime
import io
import itertools
import json
import os
import re
import select
import socket
import sys
import tarfile
import threading
import time
import unittest

import docker
import docker.errors
import requests

HOST = os.environ.get("WHARF_HOST", "")
ARCHIVE = os.environ.get("WHARF_ARCHIVE", "")
IMAGE = os.environ.get("WHARF_IMAGE", "localhost/wharf-bb:1")
ROOTFS_TAR = os.environ.get("WHARF_ROOTFS_TAR", "")
STRICT = os.environ.get("WHARF_COMPAT_STRICT") == "1"

# Every container the suite creates carries this label, so tearDown removes
# exactly those.
RUN_LABEL = "io.wharf.sdk-test"
RUN_ID = "%d-%d" % (os.getpid(), int(time.time()))
_names = itertools.count(1)

TIMESTAMP = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")


def new_name(what="c"):
    return "wsdk-%s-%s-%d" % (what, RUN_ID, next(_names))


_client = None


def client():
    global _client
    if _client is None:
        if not HOST:
            sys.exit("sdk_test: set WHARF_HOST=unix:///path/to/wharf.sock")
        _client = docker.DockerClient(base_url=HOST, version="auto", timeout=60)
    return _client


def ensure_image():
    c = client()
    try:
        return c.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        if not ARCHIVE:
            sys.exit("sdk_test: %s is not loaded; set WHARF_ARCHIVE" % IMAGE)
        with open(ARCHIVE, "rb") as f:
            c.images.load(f.read())
        return c.images.get(IMAGE)


def eventually(check, timeout=10.0, interval=0.05):
    """Polls check() until it returns something true; returns that or the
    last falsy value after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = check()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def exists(ref):
    try:
        client().containers.get(ref)
        return True
    except docker.errors.NotFound:
        return False


# ------------------------------------------------------------------ gates


def _router_answer(method, path, **kw):
    """(status, message) of a raw request, bypassing the SDK's mapping."""
    api = client().api
    r = api.request(method, "%s/v%s%s" % (api.base_url, api.api_version, path), timeout=30, **kw)
    try:
        msg = r.json().get("message", "")
    except ValueError:
        msg = r.text
    r.close()
    return r.status_code, msg


def _route_served(method, path, **kw):
    """True unless the router itself turned the request away: 404 "page not
    found" (no such route) or 405 (the path only matches other methods)."""
    status, msg = _router_answer(method, path, **kw)
    return not ((status == 404 and msg == "page not found") or status == 405)


def _probe_attach_stdin():
    """A line written to an attached `cat` comes back."""
    c = client()
    ct = c.containers.create(IMAGE, ["cat"], stdin_open=True, labels={RUN_LABEL: RUN_ID},
                             name=new_name("probe"))
    try:
        ct.start()
        sock = c.api.attach_socket(ct.id, params={"stdin": 1, "stdout": 1, "stream": 1})
        raw = sock._sock
        raw.sendall(b"probe\n")
        got = b""
        deadline = time.monotonic() + 3
        while b"probe" not in got and time.monotonic() < deadline:
            ready, _, _ = select.select([raw], [], [], 0.2)
            if ready:
                chunk = raw.recv(4096)
                if not chunk:
                    break
                got += chunk
        raw.close()
        return b"probe" in got
    finally:
        ct.remove(force=True)


def _probe_restart_policies():
    """dockerd refuses an unknown policy name (400); a daemon that ignores
    RestartPolicy accepts it."""
    status, _ = _router_answer(
        "POST", "/containers/create",
        json={"Image": IMAGE, "Cmd": ["true"], "Labels": {RUN_LABEL: RUN_ID},
              "HostConfig": {"RestartPolicy": {"Name": "wharf-no-such-policy"}}})
    if status == 201:
        for ct in client().containers.list(all=True):
            if ct.labels.get(RUN_LABEL) == RUN_ID and ct.attrs["HostConfig"].get(
                    "RestartPolicy", {}).get("Name") == "wharf-no-such-policy":
                ct.remove(force=True)
    return status == 400


def _probe_image_filters():
    """A reference filter matching nothing leaves nothing."""
    return client().images.list(name="wharf-sdk-probe-none-such") == []


def _probe_list_filters():
    """An id filter matching nothing leaves nothing (while one exists)."""
    c = client()
    ct = c.containers.create(IMAGE, ["true"], labels={RUN_LABEL: RUN_ID}, name=new_name("probe"))
    try:
        return c.containers.list(all=True, filters={"id": "0000000000ff"}) == []
    finally:
        ct.remove(force=True)


NOBODY = "wharf-sdk-probe-no-such-container"

PROBES = {
    "attach-stdin": ("an attached `cat` echoes stdin", _probe_attach_stdin),
    "resize": ("POST /containers/{id}/resize",
               lambda: _route_served("POST", "/containers/%s/resize?h=1&w=1" % NOBODY)),
    "restart": ("POST /containers/{id}/restart",
                lambda: _route_served("POST", "/containers/%s/restart" % NOBODY)),
    "rename": ("POST /containers/{id}/rename",
               lambda: _route_served("POST", "/containers/%s/rename?name=x" % NOBODY)),
    "pause": ("POST /containers/{id}/pause",
              lambda: _route_served("POST", "/containers/%s/pause" % NOBODY)),
    "top": ("GET /containers/{id}/top",
            lambda: _route_served("GET", "/containers/%s/top" % NOBODY)),
    "stats": ("GET /containers/{id}/stats",
              lambda: _route_served("GET", "/containers/%s/stats?stream=0" % NOBODY)),
    "export": ("GET /containers/{id}/export",
               lambda: _route_served("GET", "/containers/%s/export" % NOBODY)),
    "diff": ("GET /containers/{id}/changes",
             lambda: _route_served("GET", "/containers/%s/changes" % NOBODY)),
    "container-prune": ("POST /containers/prune",
                        lambda: _route_served("POST", "/containers/prune?filters=" +
                                              requests.utils.quote(json.dumps(
                                                  {"label": ["io.wharf.sdk-probe=none"]})))),
    "events": ("GET /events", lambda: _route_served("GET", "/events?since=1&until=2")),
    "restart-policies": ("create refuses an unknown RestartPolicy name",
                         _probe_restart_policies),
    "list-filters": ("GET /containers/json honours filters", _probe_list_filters),
    "image-filters": ("GET /images/json honours filters", _probe_image_filters),
    "import": ("POST /images/create?fromSrc=-",
               lambda: _route_served("POST", "/images/create?fromSrc=-&repo=wharf-sdk-probe",
                                     data=b"")),
    "system-df": ("GET /system/df", lambda: _route_served("GET", "/system/df")),
}

_probed = {}


def served(feature):
    if feature not in _probed:
        ensure_image()
        try:
            _probed[feature] = bool(PROBES[feature][1]())
        except (docker.errors.APIError, requests.exceptions.RequestException, OSError):
            _probed[feature] = False
    return _probed[feature]


def gate(feature):
    """Skips the class unless the daemon serves FEATURE (probed when the class
    is set up, so a run of other classes pays nothing); in strict mode the
    class always runs."""
    what = PROBES[feature][0]

    def decorate(cls):
        inner = cls.setUpClass.__func__

        def setUpClass(klass):
            if not STRICT and not served(feature):
                raise unittest.SkipTest("%s: not served yet (probe: %s)" % (feature, what))
            inner(klass)
        cls.setUpClass = classmethod(setUpClass)
        cls.gated_feature = feature
        return cls
    return decorate


# ------------------------------------------------------------------- base


class SdkTest(unittest.TestCase):
    """Connects, loads the image once, removes the containers it made."""

    @classmethod
    def setUpClass(cls):
        cls.c = client()
        cls.api = cls.c.api
        cls.image = ensure_image()

    def tearDown(self):
        for ct in self.c.containers.list(all=True):
            if ct.labels.get(RUN_LABEL) == RUN_ID:
                try:
                    ct.remove(force=True)
                except docker.errors.NotFound:
                    pass

    def run_ct(self, cmd, **kw):
        kw.setdefault("labels", {})[RUN_LABEL] = RUN_ID
        kw.setdefault("name", new_name())
        return self.c.containers.run(IMAGE, cmd, **kw)

    def create_ct(self, cmd, **kw):
        kw.setdefault("labels", {})[RUN_LABEL] = RUN_ID
        kw.setdefault("name", new_name())
        return self.c.containers.create(IMAGE, cmd, **kw)

    def sleeper(self, script="sleep 100", **kw):
        """A detached container running `sh -c SCRIPT` that is up."""
        ct = self.run_ct(["sh", "-c", script], detach=True, **kw)
        self.assertTrue(eventually(lambda: ct.reload() or ct.status == "running", 5),
                        "container never ran: %s" % ct.status)
        return ct

    def assertApiError(self, status, fn, *args, **kw):
        with self.assertRaises(docker.errors.APIError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.status_code, status, str(cm.exception))
        return cm.exception


# ----------------------------------------------------------------- system


class System(SdkTest):
    def test_ping(self):
        self.assertIs(self.c.ping(), True)

    def test_version_negotiated(self):
        v = self.c.version()
        self.assertEqual(v["ApiVersion"], "1.47")
        self.assertEqual(v["Os"], "linux")
        self.assertEqual(v["Components"][0]["Name"], "Engine")
        self.assertEqual(self.api.api_version, "1.47")

    def test_older_api_version_prefix(self):
        old = docker.DockerClient(base_url=HOST, version="1.24", timeout=30)
        try:
            self.assertIs(old.ping(), True)
            self.assertEqual(old.version()["ApiVersion"], "1.47")
            self.assertIn(IMAGE, [t for i in old.images.list() for t in i.tags])
        finally:
            old.close()

    def test_info(self):
        i = self.c.info()
        self.assertEqual(i["OSType"], "linux")
        self.assertEqual(i["Driver"], "overlay2")
        self.assertEqual(i["LoggingDriver"], "json-file")
        self.assertGreaterEqual(i["Images"], 1)
        self.assertIsInstance(i["NCPU"], int)


# ----------------------------------------------------------------- images


class Images(SdkTest):
    def test_load_returns_the_images(self):
        with open(ARCHIVE, "rb") as f:
            loaded = self.c.images.load(f.read())
        self.assertEqual([i.tags for i in loaded], [[IMAGE]])
        self.assertEqual(loaded[0].id, self.image.id)

    def test_load_of_a_broken_archive_is_an_api_error(self):
        with open(ARCHIVE, "rb") as f:
            cut = f.read(5000)
        before = sorted(i.id for i in self.c.images.list())
        self.assertApiError(400, self.c.images.load, cut)
        self.assertEqual(sorted(i.id for i in self.c.images.list()), before)

    def test_list_and_get(self):
        self.assertIn(self.image.id, [i.id for i in self.c.images.list()])
        self.assertIn(self.image.id, self.api.images(quiet=True))
        img = self.c.images.get(IMAGE)
        self.assertRegex(img.id, r"^sha256:[0-9a-f]{64}$")
        self.assertEqual(img.tags, [IMAGE])
        self.assertEqual(img.attrs["RepoTags"], [IMAGE])
        self.assertEqual(img.attrs["Config"]["Cmd"], ["sh"])
        self.assertEqual(img.attrs["Os"], "linux")
        self.assertGreater(img.attrs["Size"], 0)
        self.assertEqual(self.c.images.get(img.id).id, img.id)
        self.assertEqual(self.c.images.get(img.short_id.split(":")[1]).id, img.id)

    def test_tag_and_remove(self):
        repo = "wharf-sdk-tag-%s" % RUN_ID
        self.assertIs(self.image.tag(repo, "2"), True)
        self.assertEqual(self.c.images.get(repo + ":2").id, self.image.id)
        self.image.reload()
        self.assertIn(repo + ":2", self.image.tags)
        self.c.images.remove(repo + ":2")
        with self.assertRaises(docker.errors.ImageNotFound):
            self.c.images.get(repo + ":2")
        self.assertEqual(self.c.images.get(IMAGE).id, self.image.id)

    def test_remove_reports_untagged(self):
        repo = "wharf-sdk-rmi-%s" % RUN_ID
        self.image.tag(repo, "1")
        report = self.api.remove_image(repo + ":1")
        self.assertEqual(report, [{"Untagged": repo + ":1"}])

    def test_missing_image_errors(self):
        with self.assertRaises(docker.errors.ImageNotFound):
            self.c.images.get("localhost/wharf-no-such:1")
        with self.assertRaises(docker.errors.ImageNotFound):
            self.c.images.remove("localhost/wharf-no-such:1")
        with self.assertRaises(docker.errors.ImageNotFound):
            self.api.tag("localhost/wharf-no-such:1", "x", "y")

    def test_history(self):
        h = self.image.history()
        self.assertIsInstance(h, list)
        self.assertGreaterEqual(len(h), 1)
        self.assertEqual(h[0]["Id"], self.image.id)
        for entry in h:
            self.assertIn("CreatedBy", entry)
            self.assertIsInstance(entry["Created"], int)
            self.assertIsInstance(entry["Size"], int)

    def test_save_and_load_back(self):
        repo = "wharf-sdk-save-%s" % RUN_ID
        self.image.tag(repo, "1")
        img = self.c.images.get(repo + ":1")
        data = b"".join(img.save(named=True))
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            manifest = json.load(t.extractfile("manifest.json"))
        self.assertEqual(manifest[0]["RepoTags"], [repo + ":1"])
        self.c.images.remove(repo + ":1")
        loaded = self.c.images.load(data)
        self.assertEqual(len(loaded), 1)
        self.assertEqual(loaded[0].id, self.image.id)
        self.assertIn(repo + ":1", loaded[0].tags)
        self.c.images.remove(repo + ":1")

    def test_save_by_id(self):
        data = b"".join(self.image.save())
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            self.assertIn("manifest.json", t.getnames())

    def test_prune_report_shape(self):
        r = self.c.images.prune()
        self.assertIn("SpaceReclaimed", r)
        self.assertIn("ImagesDeleted", r)


# ------------------------------------------------------------ containers


class Run(SdkTest):
    def test_attached_run_returns_stdout(self):
        out = self.run_ct(["sh", "-c", "echo to-out; echo to-err >&2"])
        self.assertEqual(out, b"to-out\n")

    def test_attached_run_with_stderr(self):
        out = self.run_ct(["sh", "-c", "echo to-out; sleep 0.1; echo to-err >&2"], stderr=True)
        self.assertEqual(out, b"to-out\nto-err\n")
        out = self.run_ct(["sh", "-c", "echo to-out; echo to-err >&2"], stdout=False,
                          stderr=True)
        self.assertEqual(out, b"to-err\n")

    def test_attached_run_stream(self):
        out = self.run_ct(["sh", "-c", "echo 1; sleep 0.2; echo 2"], stream=True)
        self.assertEqual(list(out), [b"1\n", b"2\n"])

    def test_a_failing_command_raises_container_error(self):
        with self.assertRaises(docker.errors.ContainerError) as cm:
            self.run_ct(["sh", "-c", "echo bad >&2; exit 3"])
        self.assertEqual(cm.exception.exit_status, 3)
        self.assertEqual(cm.exception.stderr, b"bad\n")

    def test_remove_after_run(self):
        name = new_name()
        self.assertEqual(self.run_ct(["echo", "gone"], name=name, remove=True), b"gone\n")
        self.assertFalse(exists(name))

    def test_detached_run(self):
        name = new_name()
        ct = self.sleeper("echo started; sleep 100", name=name, hostname="inside",
                          environment={"SDK_VAR": "v1"}, labels={"tier": "test"})
        self.assertIsInstance(ct, docker.models.containers.Container)
        self.assertRegex(ct.id, r"^[0-9a-f]{64}$")
        self.assertEqual(ct.name, name)
        self.assertEqual(ct.status, "running")
        self.assertEqual(ct.labels["tier"], "test")
        self.assertEqual(ct.image.id, self.image.id)
        self.assertEqual(ct.attrs["Config"]["Hostname"], "inside")
        self.assertIn("SDK_VAR=v1", ct.attrs["Config"]["Env"])
        self.assertEqual(ct.attrs["Path"], "sh")
        self.assertEqual(ct.attrs["Args"], ["-c", "echo started; sleep 100"])
        self.assertEqual(ct.attrs["HostConfig"]["LogConfig"]["Type"], "json-file")
        self.assertTrue(eventually(lambda: ct.logs() == b"started\n", 5))

    def test_detached_run_with_remove_goes_away_on_exit(self):
        name = new_name()
        ct = self.run_ct(["sh", "-c", "sleep 0.3"], name=name, detach=True, remove=True)
        self.assertIs(ct.attrs["HostConfig"]["AutoRemove"], True)
        self.assertTrue(eventually(lambda: not exists(name), 10), "still there")

    def test_auto_remove_waits_for_an_attached_reader(self):
        # The output of a container that exits at once still reaches a
        # client attached before the start, although the container (and the
        # log the attach reads) is removed on exit.
        for _ in range(5):
            ct = self.create_ct(["sh", "-c", "echo hi; exit 3"], auto_remove=True)
            out = self.api.attach(ct.id, stdout=True, stderr=True, stream=True, logs=True)
            ct.start()
            self.assertEqual(b"".join(out), b"hi\n")
            self.assertTrue(eventually(lambda: not exists(ct.id), 10), "still there")

    def test_wait_for_removal_gets_the_exit_code(self):
        ct = self.create_ct(["sh", "-c", "sleep 0.2; exit 5"], auto_remove=True)
        result = {}
        waiter = threading.Thread(
            target=lambda: result.update(ct.wait(condition="removed", timeout=30)))
        waiter.start()
        time.sleep(0.3)  # the wait is registered before the start, as `docker run --rm` does
        ct.start()
        waiter.join(30)
        self.assertEqual(result.get("StatusCode"), 5)
        self.assertFalse(exists(ct.id))

    def test_create_and_start(self):
        ct = self.create_ct(
            ["sh", "-c", 'echo "$GREETING from $(pwd) as $(id -u) on $(hostname)"'],
            environment=["GREETING=hello"], working_dir="/tmp", user="65534",
            hostname="made")
        self.assertEqual(ct.status, "created")
        self.assertEqual(ct.attrs["State"]["Status"], "created")
        self.assertIs(ct.attrs["State"]["Running"], False)
        ct.start()
        self.assertEqual(ct.wait(timeout=30)["StatusCode"], 0)
        self.assertEqual(ct.logs(), b"hello from /tmp as 65534 on made\n")
        ct.reload()
        self.assertEqual(ct.status, "exited")

    def test_entrypoint_replaces_the_images(self):
        ct = self.create_ct(["one", "two"], entrypoint=["echo", "ep"])
        ct.start()
        ct.wait(timeout=30)
        self.assertEqual(ct.logs(), b"ep one two\n")

    def test_image_cmd_is_the_default(self):
        ct = self.create_ct(None)
        self.assertEqual(ct.attrs["Path"], "sh")


class Lifecycle(SdkTest):
    def test_list(self):
        up = self.sleeper()
        done = self.run_ct(["true"], detach=True)
        self.assertEqual(done.wait(timeout=30)["StatusCode"], 0)
        running = [c.id for c in self.c.containers.list()]
        everything = [c.id for c in self.c.containers.list(all=True)]
        self.assertIn(up.id, running)
        self.assertNotIn(done.id, running)
        self.assertIn(up.id, everything)
        self.assertIn(done.id, everything)
        listed = {c.id: c for c in self.c.containers.list(all=True)}
        self.assertEqual(listed[done.id].status, "exited")
        self.assertEqual(listed[up.id].name, up.name)
        self.assertEqual(self.api.containers(all=True, quiet=True)[0].keys(), {"Id"})

    def test_reload_follows_the_state(self):
        ct = self.create_ct(["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"])
        self.assertEqual(ct.status, "created")
        ct.start()
        ct.reload()
        self.assertEqual(ct.status, "running")
        state = ct.attrs["State"]
        self.assertIs(state["Running"], True)
        self.assertGreater(state["Pid"], 0)
        self.assertEqual(state["FinishedAt"], "0001-01-01T00:00:00Z")
        ct.stop(timeout=5)
        ct.reload()
        self.assertEqual(ct.status, "exited")
        self.assertEqual(ct.attrs["State"]["ExitCode"], 0)
        self.assertEqual(ct.attrs["State"]["Pid"], 0)
        self.assertNotEqual(ct.attrs["State"]["FinishedAt"], "0001-01-01T00:00:00Z")

    def test_wait_returns_the_status_code(self):
        ct = self.run_ct(["sh", "-c", "exit 42"], detach=True)
        self.assertEqual(ct.wait(timeout=30), {"StatusCode": 42, "Error": None})
        # Waiting on an exited container answers at once.
        self.assertEqual(ct.wait(timeout=30)["StatusCode"], 42)

    def test_wait_times_out_on_the_client(self):
        ct = self.sleeper()
        with self.assertRaises(requests.exceptions.ConnectionError):
            ct.wait(timeout=1)

    def test_stop(self):
        ct = self.sleeper("trap 'exit 0' TERM; while :; do sleep 0.1; done")
        ct.stop(timeout=5)
        self.assertEqual(ct.wait(timeout=30)["StatusCode"], 0)
        # Stopping a stopped container is not an error (304).
        ct.stop()

    def test_stop_escalates_to_kill(self):
        ct = self.sleeper("trap '' TERM; while :; do sleep 0.1; done")
        t0 = time.monotonic()
        ct.stop(timeout=1)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertEqual(ct.wait(timeout=30)["StatusCode"], 137)

    def test_kill(self):
        ct = self.sleeper()
        ct.kill()
        self.assertEqual(ct.wait(timeout=30)["StatusCode"], 137)
        self.assertApiError(409, ct.kill)

    def test_kill_with_a_signal(self):
        ct = self.sleeper("trap 'echo got USR1; exit 9' USR1; while :; do sleep 0.1; done")
        ct.kill(signal="SIGUSR1")
        self.assertEqual(ct.wait(timeout=30)["StatusCode"], 9)
        self.assertEqual(ct.logs(), b"got USR1\n")
        ct2 = self.sleeper()
        self.assertApiError(400, ct2.kill, signal="SIGNOPE")

    def test_remove(self):
        ct = self.sleeper()
        err = self.assertApiError(409, ct.remove)
        self.assertIn("container is running", err.explanation)
        ct.remove(force=True)
        with self.assertRaises(docker.errors.NotFound):
            ct.reload()
        done = self.run_ct(["true"], detach=True)
        done.wait(timeout=30)
        done.remove()
        self.assertFalse(exists(done.id))

    def test_get_by_name_and_prefix(self):
        ct = self.sleeper()
        self.assertEqual(self.c.containers.get(ct.name).id, ct.id)
        self.assertEqual(self.c.containers.get(ct.id[:12]).id, ct.id)


class Logs(SdkTest):
    def finished(self, script):
        ct = self.run_ct(["sh", "-c", script], detach=True)
        self.assertEqual(ct.wait(timeout=30)["StatusCode"], 0)
        return ct

    def test_streams(self):
        ct = self.finished("echo out1; echo err1 >&2; sleep 0.1; echo out2")
        self.assertEqual(ct.logs(), b"out1\nerr1\nout2\n")
        self.assertEqual(ct.logs(stderr=False), b"out1\nout2\n")
        self.assertEqual(ct.logs(stdout=False), b"err1\n")
        self.assertApiError(400, self.api.logs, ct.id, stdout=False, stderr=False)

    def test_tail(self):
        ct = self.finished("for i in 1 2 3 4 5; do echo line $i; done")
        self.assertEqual(ct.logs(tail=2), b"line 4\nline 5\n")
        self.assertEqual(ct.logs(tail=0), b"")
        self.assertEqual(ct.logs(tail="all").count(b"\n"), 5)

    def test_timestamps(self):
        ct = self.finished("echo a; echo b")
        lines = ct.logs(timestamps=True).splitlines(keepends=True)
        self.assertEqual(len(lines), 2)
        for line, text in zip(lines, (b"a\n", b"b\n")):
            self.assertRegex(line, TIMESTAMP)
            self.assertTrue(line.endswith(b" " + text))

    def test_since_and_until(self):
        ct = self.finished("echo early; sleep 2; echo late")
        # Whole seconds, as the SDK sends ints: one second before the end
        # falls between the two lines.
        cut = int(time.time()) - 1
        self.assertEqual(ct.logs(since=cut), b"late\n")
        self.assertEqual(ct.logs(until=cut), b"early\n")
        self.assertEqual(ct.logs(since=cut - 60), b"early\nlate\n")
        self.assertEqual(ct.logs(since=datetime.datetime.utcnow() + datetime.timedelta(60)), b"")
        status, msg = _router_answer("GET", "/containers/%s/logs?stdout=1&since=yesterday" % ct.id)
        self.assertEqual(status, 400, msg)
        self.assertIn("since", msg)

    def test_stream_without_follow_ends(self):
        ct = self.finished("echo x; echo y")
        self.assertEqual(list(ct.logs(stream=True)), [b"x\n", b"y\n"])

    def test_follow_streams_until_the_exit(self):
        ct = self.sleeper("for i in 1 2 3; do echo tick $i; sleep 0.3; done")
        t0 = time.monotonic()
        lines = list(ct.logs(stream=True, follow=True))
        self.assertEqual(lines, [b"tick 1\n", b"tick 2\n", b"tick 3\n"])
        self.assertGreater(time.monotonic() - t0, 0.5)

    def test_follow_can_be_closed_early(self):
        ct = self.sleeper("while :; do echo tick; sleep 0.05; done")
        stream = ct.logs(stream=True, follow=True)
        self.assertEqual([next(stream) for _ in range(3)], [b"tick\n"] * 3)
        stream.close()
        # The daemon still answers (the stream's thread noticed the close).
        self.assertIs(self.c.ping(), True)

    def test_tty_logs_are_raw(self):
        ct = self.run_ct(["sh", "-c", "echo on-a-tty"], detach=True, tty=True)
        ct.wait(timeout=30)
        self.assertEqual(ct.logs(), b"on-a-tty\r\n")


class Exec(SdkTest):
    def setUp(self):
        self.ct = self.sleeper(hostname="inside")

    def test_exit_code_and_output(self):
        r = self.ct.exec_run(["sh", "-c", "echo out; echo err >&2; exit 4"])
        self.assertEqual(r.exit_code, 4)
        self.assertEqual(sorted(r.output.splitlines()), [b"err", b"out"])
        self.assertEqual(self.ct.exec_run(["hostname"]), (0, b"inside\n"))

    def test_demux(self):
        r = self.ct.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
        self.assertEqual(r.exit_code, 0)
        self.assertEqual(r.output, (b"out\n", b"err\n"))
        r = self.ct.exec_run(["echo", "only-out"], demux=True)
        self.assertEqual(r.output, (b"only-out\n", None))

    def test_stream(self):
        r = self.ct.exec_run(["sh", "-c", "echo 1; sleep 0.2; echo 2"], stream=True)
        self.assertIsNone(r.exit_code)
        self.assertEqual(list(r.output), [b"1\n", b"2\n"])

    def test_tty(self):
        r = self.ct.exec_run(["tty"], tty=True)
        self.assertEqual(r.exit_code, 0)
        self.assertRegex(r.output, rb"^/dev/pts/\d+\r\n$")

    def test_environment_workdir_user(self):
        r = self.ct.exec_run(["sh", "-c", "echo $FOO; pwd; id -u"], environment={"FOO": "bar"},
                             workdir="/tmp", user="65534")
        self.assertEqual(r, (0, b"bar\n/tmp\n65534\n"))

    def test_detach(self):
        r = self.ct.exec_run(["touch", "/tmp/made-by-exec"], detach=True)
        self.assertIsNone(r.exit_code)
        self.assertTrue(eventually(lambda: self.ct.exec_run(["test", "-e",
                                                             "/tmp/made-by-exec"]).exit_code == 0))

    def test_low_level_inspect(self):
        e = self.api.exec_create(self.ct.id, ["sh", "-c", "exit 6"])
        before = self.api.exec_inspect(e["Id"])
        self.assertIs(before["Running"], False)
        self.assertIsNone(before["ExitCode"])
        self.assertEqual(before["ContainerID"], self.ct.id)
        self.api.exec_start(e["Id"])
        self.assertEqual(self.api.exec_inspect(e["Id"])["ExitCode"], 6)
        self.assertApiError(409, self.api.exec_start, e["Id"])
        with self.assertRaises(docker.errors.NotFound):
            self.api.exec_inspect("0" * 64)

    def test_missing_binary(self):
        r = self.ct.exec_run(["/no/such/binary"])
        self.assertNotEqual(r.exit_code, 0)
        self.assertIn(b"/no/such/binary", r.output)

    def test_not_running(self):
        self.ct.kill()
        self.ct.wait(timeout=30)
        self.assertApiError(409, self.ct.exec_run, ["true"])
        self.assertApiError(400, self.api.exec_create, self.ct.id, [])


class Errors(SdkTest):
    def test_no_such_container(self):
        with self.assertRaises(docker.errors.NotFound) as cm:
            self.c.containers.get("wharf-sdk-no-such")
        self.assertEqual(cm.exception.status_code, 404)
        self.assertIn("No such container: wharf-sdk-no-such", cm.exception.explanation)
        for call in (lambda: self.api.start("wharf-sdk-no-such"),
                     lambda: self.api.stop("wharf-sdk-no-such"),
                     lambda: self.api.kill("wharf-sdk-no-such"),
                     lambda: self.api.remove_container("wharf-sdk-no-such"),
                     lambda: self.api.logs("wharf-sdk-no-such"),
                     lambda: self.api.wait("wharf-sdk-no-such")):
            with self.assertRaises(docker.errors.NotFound):
                call()

    def test_no_such_image(self):
        with self.assertRaises(docker.errors.ImageNotFound) as cm:
            self.c.containers.create("localhost/wharf-no-such:1", ["true"])
        self.assertEqual(cm.exception.status_code, 404)
        self.assertIn("No such image: localhost/wharf-no-such:1", cm.exception.explanation)

    def test_name_conflict(self):
        ct = self.create_ct(["true"])
        err = self.assertApiError(409, self.create_ct, ["true"], name=ct.name)
        self.assertIn('The container name "/%s" is already in use' % ct.name, err.explanation)
        self.assertTrue(err.is_client_error())

    def test_ambiguous_prefix(self):
        # Two ids sharing a prefix are rare; one-character prefixes are not
        # resolved at all (3 is the minimum), so "a" names nothing.
        with self.assertRaises(docker.errors.NotFound):
            self.c.containers.get("a")

    def test_bad_requests(self):
        self.assertApiError(400, self.api.create_container, "", ["true"])
        ct = self.create_ct(["true"])
        self.assertApiError(400, self.api.wait, ct.id, condition="whenever")


# ---------------------------------------------------------- gated features


def _frames(raw, want, timeout=5.0):
    """Reads multiplexed frames from a raw attach socket until want(stdout,
    stderr) holds or timeout; returns (stdout, stderr)."""
    out = {1: b"", 2: b""}
    buf = b""
    deadline = time.monotonic() + timeout
    while not want(out[1], out[2]) and time.monotonic() < deadline:
        ready, _, _ = select.select([raw], [], [], 0.1)
        if not ready:
            continue
        chunk = raw.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            size = int.from_bytes(buf[4:8], "big")
            if len(buf) < 8 + size:
                break
            if buf[0] in out:
                out[buf[0]] += buf[8:8 + size]
            buf = buf[8 + size:]
    return out[1], out[2]


@gate("attach-stdin")
class AttachStdin(SdkTest):
    def test_stdin_reaches_the_container(self):
        ct = self.create_ct(["sh", "-c", "read a; echo got:$a; read b; echo got:$b >&2"],
                            stdin_open=True)
        sock = self.api.attach_socket(ct.id, params={"stdin": 1, "stdout": 1, "stderr": 1,
                                                     "stream": 1})
        raw = sock._sock
        ct.start()
        raw.sendall(b"one\ntwo\n")
        out, err = _frames(raw, lambda o, e: o and e)
        raw.close()
        self.assertEqual((out, err), (b"got:one\n", b"got:two\n"))
        self.assertEqual(ct.wait(timeout=30)["StatusCode"], 0)

    def test_closing_stdin_ends_cat(self):
        # create() without detach sets StdinOnce with OpenStdin: the
        # container's stdin closes when the attached client closes its side.
        ct = self.create_ct(["cat"], stdin_open=True)
        self.assertIs(ct.attrs["Config"]["StdinOnce"], True)
        sock = self.api.attach_socket(ct.id, params={"stdin": 1, "stdout": 1, "stream": 1})
        raw = sock._sock
        ct.start()
        raw.sendall(b"echoed\n")
        out, _ = _frames(raw, lambda o, e: b"echoed\n" in o)
        self.assertEqual(out, b"echoed\n")
        raw.shutdown(socket.SHUT_WR)
        self.assertEqual(ct.wait(timeout=30)["StatusCode"], 0)
        raw.close()

    def test_tty_attach_round_trip(self):
        ct = self.create_ct(["sh", "-c", "read a; echo got:$a"], stdin_open=True, tty=True)
        sock = self.api.attach_socket(ct.id, params={"stdin": 1, "stdout": 1, "stream": 1})
        raw = sock._sock
        ct.start()
        raw.sendall(b"typed\n")
        got = b""
        deadline = time.monotonic() + 5
        while b"got:typed" not in got and time.monotonic() < deadline:
            ready, _, _ = select.select([raw], [], [], 0.1)
            if ready:
                chunk = raw.recv(4096)
                if not chunk:
                    break
                got += chunk
        raw.close()
        self.assertIn(b"got:typed", got)


@gate("resize")
class Resize(SdkTest):
    def test_resize_a_tty(self):
        ct = self.sleeper("while :; do stty size; sleep 0.1; done", tty=True)
        ct.resize(height=33, width=111)
        self.assertTrue(eventually(lambda: b"33 111" in ct.logs(), 5), ct.logs()[-200:])
        with self.assertRaises(docker.errors.NotFound):
            self.api.resize("wharf-sdk-no-such", 10, 10)


@gate("restart")
class Restart(SdkTest):
    def test_restart(self):
        ct = self.sleeper("echo run; trap 'exit 0' TERM; while :; do sleep 0.1; done")
        first = ct.attrs["State"]["StartedAt"]
        pid = ct.attrs["State"]["Pid"]
        ct.restart(timeout=5)
        ct.reload()
        self.assertEqual(ct.status, "running")
        self.assertNotEqual(ct.attrs["State"]["StartedAt"], first)
        self.assertNotEqual(ct.attrs["State"]["Pid"], pid)
        self.assertTrue(eventually(lambda: ct.logs() == b"run\nrun\n", 5), ct.logs())

    def test_restart_an_exited_container(self):
        ct = self.run_ct(["sh", "-c", "echo once; sleep 100"], detach=True)
        ct.kill()
        ct.wait(timeout=30)
        ct.restart()
        ct.reload()
        self.assertEqual(ct.status, "running")


@gate("rename")
class Rename(SdkTest):
    def test_rename(self):
        ct = self.sleeper()
        old, new = ct.name, new_name("renamed")
        ct.rename(new)
        ct.reload()
        self.assertEqual(ct.name, new)
        self.assertEqual(self.c.containers.get(new).id, ct.id)
        with self.assertRaises(docker.errors.NotFound):
            self.c.containers.get(old)
        other = self.create_ct(["true"])
        self.assertApiError(409, ct.rename, other.name)


@gate("pause")
class Pause(SdkTest):
    def test_pause_and_unpause(self):
        ct = self.sleeper()
        ct.pause()
        ct.reload()
        self.assertEqual(ct.status, "paused")
        self.assertIs(ct.attrs["State"]["Paused"], True)
        self.assertApiError(409, ct.exec_run, ["true"])
        ct.unpause()
        ct.reload()
        self.assertEqual(ct.status, "running")
        self.assertApiError(409, ct.unpause)


@gate("top")
class Top(SdkTest):
    def test_top(self):
        ct = self.sleeper("sleep 123")
        t = ct.top()
        self.assertIn("PID", t["Titles"])
        cmd = t["Titles"].index("CMD") if "CMD" in t["Titles"] else -1
        self.assertTrue(any("sleep 123" in p[cmd] for p in t["Processes"]), t)


@gate("stats")
class Stats(SdkTest):
    def test_one_shot_stats(self):
        ct = self.sleeper()
        s = ct.stats(stream=False)
        for key in ("read", "cpu_stats", "memory_stats", "pids_stats"):
            self.assertIn(key, s)
        self.assertGreater(s["memory_stats"]["usage"], 0)
        self.assertGreaterEqual(s["pids_stats"]["current"], 1)

    def test_streamed_stats(self):
        ct = self.sleeper()
        stream = ct.stats(stream=True, decode=True)
        first, second = next(stream), next(stream)
        stream.close()
        self.assertNotEqual(first["read"], second["read"])


@gate("export")
class Export(SdkTest):
    def test_export(self):
        ct = self.sleeper("echo data > /tmp/exported; sleep 100")
        eventually(lambda: ct.exec_run(["test", "-e", "/tmp/exported"]).exit_code == 0)
        data = b"".join(ct.export())
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            names = [n.lstrip("./") for n in t.getnames()]
            self.assertIn("bin/busybox", names)
            self.assertIn("tmp/exported", names)


@gate("diff")
class Diff(SdkTest):
    def test_diff(self):
        ct = self.sleeper("rm /etc/group; echo x >> /etc/passwd; touch /tmp/added; sleep 100")
        eventually(lambda: ct.exec_run(["test", "-e", "/tmp/added"]).exit_code == 0)
        changes = {(d["Path"], d["Kind"]) for d in ct.diff()}
        self.assertIn(("/tmp/added", 1), changes)
        self.assertIn(("/etc/group", 2), changes)
        self.assertIn(("/etc/passwd", 0), changes)


@gate("container-prune")
class ContainerPrune(SdkTest):
    def test_prune_removes_stopped_only(self):
        up = self.sleeper()
        done = self.run_ct(["true"], detach=True)
        done.wait(timeout=30)
        r = self.c.containers.prune(filters={"label": "%s=%s" % (RUN_LABEL, RUN_ID)})
        self.assertIn(done.id, r["ContainersDeleted"])
        self.assertNotIn(up.id, r["ContainersDeleted"])
        self.assertIsInstance(r["SpaceReclaimed"], int)
        self.assertFalse(exists(done.id))
        self.assertTrue(exists(up.id))


@gate("events")
class Events(SdkTest):
    def test_container_events(self):
        since = int(time.time()) - 1
        ct = self.run_ct(["true"], detach=True)
        ct.wait(timeout=30)
        time.sleep(0.2)
        until = int(time.time()) + 1
        events = list(self.c.events(since=since, until=until, decode=True))
        mine = [e["Action"] for e in events if e.get("Type") == "container" and
                e.get("Actor", {}).get("ID") == ct.id]
        for action in ("create", "start", "die"):
            self.assertIn(action, mine)
        self.assertLess(mine.index("create"), mine.index("start"))


@gate("restart-policies")
class RestartPolicies(SdkTest):
    def test_on_failure_with_a_limit(self):
        ct = self.run_ct(["sh", "-c", "echo run; exit 1"], detach=True,
                         restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
        self.assertTrue(eventually(lambda: ct.logs().count(b"run\n") == 3, 30), ct.logs())
        self.assertTrue(eventually(lambda: ct.reload() or (ct.status == "exited" and
                                                           ct.attrs["RestartCount"] == 2), 30))
        self.assertEqual(ct.attrs["State"]["ExitCode"], 1)

    def test_always_until_stopped(self):
        ct = self.run_ct(["sh", "-c", "echo run; sleep 0.2"], detach=True,
                         restart_policy={"Name": "always"})
        self.assertTrue(eventually(lambda: ct.logs().count(b"run\n") >= 2, 30), ct.logs())
        ct.stop(timeout=1)
        n = ct.logs().count(b"run\n")
        time.sleep(1.5)
        self.assertEqual(ct.logs().count(b"run\n"), n)
        ct.reload()
        self.assertEqual(ct.status, "exited")

    def test_unknown_policy_is_refused(self):
        self.assertApiError(400, self.create_ct, ["true"], restart_policy={"Name": "sometimes"})


@gate("list-filters")
class ListFilters(SdkTest):
    def test_container_filters(self):
        up = self.sleeper(labels={"sdk-role": "up"})
        done = self.run_ct(["true"], detach=True, labels={"sdk-role": "done"})
        done.wait(timeout=30)

        def ids(**filters):
            return {c.id for c in self.c.containers.list(all=True, filters=filters)}
        self.assertEqual(ids(name=up.name), {up.id})
        self.assertEqual(ids(id=done.id[:12]), {done.id})
        self.assertEqual(ids(label="sdk-role=up"), {up.id})
        self.assertEqual(ids(label="sdk-role") & {up.id, done.id}, {up.id, done.id})
        self.assertIn(done.id, ids(status="exited"))
        self.assertNotIn(up.id, ids(status="exited"))
        self.assertIn(up.id, ids(status="running"))
        self.assertIn(up.id, ids(ancestor=IMAGE))


@gate("image-filters")
class ImageFilters(SdkTest):
    def test_image_filters(self):
        repo = "wharf-sdk-filter-%s" % RUN_ID
        self.image.tag(repo, "1")
        try:
            self.assertEqual([i.id for i in self.c.images.list(name=repo)], [self.image.id])
            self.assertEqual(self.c.images.list(name="wharf-sdk-none-such"), [])
            self.assertNotIn(self.image.id,
                             [i.id for i in self.c.images.list(filters={"dangling": True})])
        finally:
            self.c.images.remove(repo + ":1")


@gate("import")
class Import(SdkTest):
    def test_import_a_rootfs(self):
        if not ROOTFS_TAR:
            self.fail("set WHARF_ROOTFS_TAR to a root filesystem tarball")
        repo = "wharf-sdk-import-%s" % RUN_ID
        with open(ROOTFS_TAR, "rb") as f:
            r = self.api.import_image_from_data(f.read(), repository=repo, tag="1",
                                                changes=['CMD ["echo", "imported"]'])
        self.assertIn("sha256:", r)
        try:
            img = self.c.images.get(repo + ":1")
            self.assertEqual(img.attrs["Config"]["Cmd"], ["echo", "imported"])
            out = self.c.containers.run(repo + ":1", remove=True, labels={RUN_LABEL: RUN_ID})
            self.assertEqual(out, b"imported\n")
        finally:
            self.c.images.remove(repo + ":1", force=True)


@gate("system-df")
class SystemDf(SdkTest):
    def test_df(self):
        ct = self.create_ct(["true"])
        df = self.c.df()
        for key in ("LayersSize", "Images", "Containers", "Volumes"):
            self.assertIn(key, df)
        self.assertIn(self.image.id, [i["Id"] for i in df["Images"]])
        self.assertIn(ct.id, [c["Id"] for c in df["Containers"]])


# ------------------------------------------------------------------- main


def main(argv):
    verbosity = 2 if "-v" in argv else 1
    names = [a for a in argv if not a.startswith("-")]
    module = sys.modules[__name__]
    loader = unittest.TestLoader()
    suite = (loader.loadTestsFromNames(names, module) if names
             else loader.loadTestsFromModule(module))
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity).run(suite)
    if not result.wasSuccessful():
        return 1
    if result.skipped and len(result.skipped) >= result.testsRun:
        print("skipped:", result.skipped[0][1])
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

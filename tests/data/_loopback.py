"""A loopback HTTP server for the fetch tests, and generated files in the real formats.

The server (``http.server`` on 127.0.0.1, port 0, in a thread) serves a dict of paths to bytes,
honours ``Range: bytes=N-`` with 206 (unless told not to), can cut a number of responses in the
middle of the body, and records every request's path and Range header. Nothing here touches
the network.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import socket
import tarfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from layerflow.data import write_idx
from layerflow.data._remote import RemoteFile, RemoteSet


@dataclass
class Behaviour:
    files: dict[str, bytes] = field(default_factory=dict)
    cut_first: int = 0  # cut this many responses after half their body
    honour_range: bool = True
    requests: list[tuple[str, str | None]] = field(default_factory=list)


class LoopbackServer:
    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.b = Behaviour(dict(files or {}))
        b = self.b

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                b.requests.append((self.path, rng))
                body = b.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if rng and b.honour_range and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                if b.cut_first > 0:
                    b.cut_first -= 1
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.thread.join()
        self.httpd.server_close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (a port bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def remote_set(name: str, files: dict[str, bytes], mirror: str) -> RemoteSet:
    """A RemoteSet whose checksums are those of the generated ``files``."""
    return RemoteSet(name, f"generated {name}",
                     tuple(RemoteFile(f, len(b), sha256(b)) for f, b in files.items()),
                     (mirror,), "computed by the test", "")


# ------------------------------------------------------------------------ generated data
def mnist_files(rng: np.random.Generator, n_train: int = 60, n_test: int = 20
                ) -> tuple[dict[str, bytes], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The four MNIST file names, gzipped IDX, holding random images and labels 0…9 cycled."""
    out: dict[str, bytes] = {}
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, stem, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            buf = io.BytesIO()
            write_idx_bytes(buf, arr)
            out[f"{stem}-{kind}-ubyte.gz"] = gzip.compress(buf.getvalue(), mtime=0)
        arrays[split] = (images, labels)
    return out, arrays


def write_idx_bytes(buf: io.BytesIO, arr: np.ndarray) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = write_idx(Path(d) / "x", arr)
        buf.write(p.read_bytes())


def cifar_archive(kind: str, rng: np.random.Generator, per_file: int = 30,
                  extra: list[tarfile.TarInfo] | None = None,
                  extra_data: dict[str, bytes] | None = None, drop: str | None = None,
                  ) -> tuple[bytes, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """A CIFAR binary archive in the real layout: images drawn as (n, 32, 32, 3) HWC arrays,
    written channel-major after their label byte(s). Returns the .tar.gz bytes and, per split,
    the HWC images and the labels used (fine labels for CIFAR-100)."""
    if kind == "cifar10":
        train = [f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)]
        test = ["cifar-10-batches-bin/test_batch.bin"]
        n_classes = 10
    else:
        train, test, n_classes = ["cifar-100-binary/train.bin"], ["cifar-100-binary/test.bin"], 100
    arrays: dict[str, list[Any]] = {"train": [[], []], "test": [[], []]}
    members: dict[str, bytes] = {}
    for split, names in (("train", train), ("test", test)):
        for name in names:
            n = per_file if kind == "cifar10" else per_file * 5
            hwc = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
            labels = rng.integers(0, n_classes, size=n).astype(np.uint8)
            labels[: min(n, n_classes)] = np.arange(min(n, n_classes))
            rows = []
            for img, lab in zip(hwc, labels, strict=True):
                head = bytes([lab]) if kind == "cifar10" else bytes([lab // 5, lab])
                rows.append(head + img.transpose(2, 0, 1).tobytes())
            members[name] = b"".join(rows)
            arrays[split][0].append(hwc)
            arrays[split][1].append(labels)
    if drop:
        members.pop(drop)
    members.update(extra_data or {})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        readme = b"generated for the tests"
        info = tarfile.TarInfo("cifar-10-batches-bin/readme.html")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info)
    out = {s: (np.concatenate(a[0]), np.concatenate(a[1]).astype(np.int64))
           for s, a in arrays.items()}
    return buf.getvalue(), out

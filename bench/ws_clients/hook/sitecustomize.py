"""Used by ``bench/ws_clients/run --local-overhead`` only: with this directory on
PYTHONPATH and ``GATOR_BENCH_WS_CLIENT=library``, every Python process of a
``gator run`` (the agent before it preloads and forks, hence every wrapper) links
to its parent through the websockets library's client instead of the
hand-written one.  Without the variable it does nothing."""

import os

if os.environ.get("GATOR_BENCH_WS_CLIENT") == "library":
    import libclient  # the directory above is on PYTHONPATH too

    libclient.install()

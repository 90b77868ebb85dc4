"""A live local page of the monitor's state, served on the loopback interface only.

``GET /`` is a self-contained HTML page (no external requests) that polls ``GET /state.json`` (the monitor's
:meth:`~firesale.monitor.SnapshotMonitor.current` plus its latest alerts) and shows the state, the reasons and the
grade of each dimension. Strings are inserted as text, never as HTML.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from firesale.monitor._checks import fail
from firesale.monitor.snapshots import Alert, SnapshotMonitor

__all__ = ["MonitorPage", "serve"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>firesale monitor</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
#state { font-size: 1.6em; font-weight: 600; }
.s0 { color: #1a7f37; } .s1 { color: #b35900; } .s2 { color: #c62828; }
td, th { padding: 2px 12px 2px 0; text-align: left; }
</style></head>
<body>
<h1>firesale monitor</h1>
<div>as of <span id="time">-</span></div>
<div id="state">waiting for data</div>
<h2>Reasons</h2><ul id="reasons"></ul>
<h2>Dimensions</h2><table><thead><tr><th>dimension</th><th>grade</th></tr></thead><tbody id="grades"></tbody></table>
<h2>Alerts</h2><ul id="alerts"></ul>
<script>
const GRADES = {"-1": "n/a", "0": "stable", "1": "stressed", "2": "failed"};
function fill(id, items, make) {
  const el = document.getElementById(id);
  el.replaceChildren(...items.map(make));
}
function li(text) { const e = document.createElement("li"); e.textContent = text; return e; }
async function refresh() {
  const r = await fetch("state.json", {cache: "no-store"});
  const s = await r.json();
  document.getElementById("time").textContent = s.time === null ? "-" : s.time;
  const st = document.getElementById("state");
  st.textContent = s.label;
  st.className = s.state === null ? "" : "s" + s.state;
  fill("reasons", s.reasons, li);
  fill("grades", Object.entries(s.grades), ([k, v]) => {
    const tr = document.createElement("tr");
    for (const t of [k, GRADES[String(v)]]) { const td = document.createElement("td"); td.textContent = t; tr.append(td); }
    return tr;
  });
  fill("alerts", s.alerts, li);
  document.body.dataset.ready = "1";
}
refresh(); setInterval(refresh, __POLL_MS__);
</script></body></html>
"""


class MonitorPage:
    """The state a page shows: the monitor and its last alerts, shared with the server thread under a lock."""

    def __init__(self, monitor: SnapshotMonitor, keep: int = 50) -> None:
        self.monitor = monitor
        self.alerts: list[str] = []
        self.keep = keep
        self.lock = threading.Lock()

    def step(self) -> list[Alert]:
        """The monitor's :meth:`~firesale.monitor.SnapshotMonitor.step`, under the lock the server reads with."""
        with self.lock:
            alerts = self.monitor.step()
            self.alerts = ([str(a) for a in alerts][::-1] + self.alerts)[: self.keep]
        return alerts

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {**self.monitor.current(), "alerts": list(self.alerts)}


def serve(
    page: MonitorPage, host: str = "127.0.0.1", port: int = 0, poll_ms: int = 2000
) -> ThreadingHTTPServer:
    """Serve ``page`` in a daemon thread on a loopback address; return the server (``server_address`` has the port).

    Raises
    ------
    ParameterError
        If ``host`` is not a loopback address: the page is for this machine only.
    """
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise fail("host", "serve", "a loopback address (127.0.0.1, ::1 or localhost)", host)
    html = _PAGE.replace("__POLL_MS__", str(int(poll_ms))).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                body, kind = html, "text/html; charset=utf-8"
            elif path == "/state.json":
                body, kind = json.dumps(page.state(), default=str).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the CLI prints alerts, not requests

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="firesale-monitor-page", daemon=True).start()
    return server

"""A small schema registry for tests: the part of Confluent's REST API the codec uses.

Why a stand-in: no real registry runs on this machine. Confluent's Schema Registry is not on
Maven Central (only Confluent's own repository, which is out of reach here), Karapace is not
on PyPI, and Apicurio's registry is on Maven Central only as the modules of a Quarkus
application that needs a Quarkus build to run. So the registry-outage test runs this, as a
real separate process on a real port: the outage is a real refused connection.

Endpoints (what confluent-kafka's SchemaRegistryClient calls for register and get):

* ``POST /subjects/<subject>/versions`` ``{"schema": ...}`` -> ``{"id": n}`` (the same schema
  text gets the same id, under any subject);
* ``GET /schemas/ids/<n>`` -> ``{"schema": ...}``, or 404 with error code 40403.

Schemas are kept in a JSON file, so a restarted registry knows the ids it gave out.

    python -m tests.schemas.registry_server --port 18081 --store /tmp/registry.json
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.schemas: list[str] = json.loads(path.read_text()) if path.is_file() else []

    def register(self, text: str) -> int:
        with self.lock:
            if text not in self.schemas:
                self.schemas.append(text)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(self.schemas))
                tmp.replace(self.path)
            return self.schemas.index(text) + 1

    def get(self, schema_id: int) -> str | None:
        with self.lock:
            if 1 <= schema_id <= len(self.schemas):
                return self.schemas[schema_id - 1]
            return None


def handler(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            if not re.fullmatch(r"/subjects/[^/]+/versions", path):
                self._reply(404, {"error_code": 404, "message": "not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                request = json.loads(self.rfile.read(length))
                text = request["schema"]
            except (ValueError, KeyError, TypeError):
                self._reply(422, {"error_code": 42201, "message": "invalid schema"})
                return
            self._reply(200, {"id": store.register(text)})

        def do_GET(self) -> None:  # noqa: N802
            match = re.fullmatch(r"/schemas/ids/(\d+)", self.path.split("?", 1)[0])
            text = store.get(int(match.group(1))) if match else None
            if text is None:
                self._reply(404, {"error_code": 40403, "message": "Schema not found"})
                return
            self._reply(200, {"schema": text})

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # quiet: the test reads the process's exit, not its access log

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", type=Path, required=True)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(Store(args.store)))
    print(f"registry on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

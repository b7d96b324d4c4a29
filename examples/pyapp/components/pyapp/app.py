"""A tiny web app without dependencies: answers every GET with the configured greeting."""
import configparser
import http.server
import sys

config = configparser.ConfigParser()
config.read(sys.argv[1])
GREETING = config["app"]["greeting"]
PORT = config.getint("app", "port")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{GREETING}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    print(f"pyapp listening on 127.0.0.1:{PORT}", flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()

"""A throw-away SMTP server for deploy/check.sh: accepts every message, appends it to a file.

    python smtp_sink.py PORT MAILBOX

Listens on 127.0.0.1:PORT only. Speaks just enough SMTP for Django's SMTP backend without
TLS or authentication (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT). Never use it for real mail.
"""

from __future__ import annotations

import socketserver
import sys
import threading

MAILBOX = ""
_lock = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def reply(self, text: str) -> None:
        self.wfile.write(f"{text}\r\n".encode())
        self.wfile.flush()

    def handle(self) -> None:
        self.reply("220 deploy-check SMTP sink")
        in_data = False
        lines: list[str] = []
        while True:
            raw = self.rfile.readline(1_000_000)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if in_data:
                if line == ".":
                    with _lock, open(MAILBOX, "a", encoding="utf-8") as mailbox:
                        mailbox.write("\n".join(lines) + "\n.\n")
                    lines, in_data = [], False
                    self.reply("250 2.0.0 queued")
                else:
                    lines.append(line[1:] if line.startswith("..") else line)
                continue
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 deploy-check")
            elif verb == "DATA":
                in_data = True
                self.reply("354 end data with <CR><LF>.<CR><LF>")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self.reply("250 2.0.0 ok")
            else:
                self.reply("502 5.5.2 not implemented")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main() -> None:
    global MAILBOX
    port, MAILBOX = int(sys.argv[1]), sys.argv[2]
    with Server(("127.0.0.1", port), Handler) as server:
        print(f"smtp sink listening on 127.0.0.1:{port}, writing to {MAILBOX}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()

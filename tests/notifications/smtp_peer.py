"""A real SMTP server on 127.0.0.1 that answers like a picky mail host (the provider's side)."""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field


@dataclass
class SmtpPeer:
    # Replies to RCPT TO and to the end of DATA; "{rcpt}" is replaced by the address, as real
    # servers quote it ("550 5.1.1 <bob@example.test>: Recipient address rejected").
    rcpt_reply: str = "250 2.1.5 Ok"
    data_reply: str = "250 2.0.0 Ok: queued"
    commands: list[str] = field(default_factory=list)
    server: socketserver.ThreadingTCPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def start(self) -> SmtpPeer:
        peer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 mail.peer.test ESMTP")
                rcpt = ""
                while line := self.rfile.readline():
                    command = line.decode(errors="replace").strip()
                    peer.commands.append(command)
                    verb = command.split(" ", 1)[0].upper()
                    if verb in {"EHLO", "HELO"}:
                        self.reply("250 mail.peer.test")
                    elif verb == "RCPT":
                        rcpt = command.split(":", 1)[1].strip().strip("<>")
                        self.reply(peer.rcpt_reply.format(rcpt=rcpt))
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        while self.rfile.readline() not in (b".\r\n", b""):
                            pass
                        self.reply(peer.data_reply.format(rcpt=rcpt))
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("250 Ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

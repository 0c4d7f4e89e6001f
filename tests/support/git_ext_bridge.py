"""``git``'s ``ext::`` transport end of the test bridge: stdin/stdout <-> a TCP socket.

Run as ``ext::<python> <this file> <port> %S``: connects to ``127.0.0.1:<port>``, sends the
service name (``git-upload-pack`` / ``git-receive-pack``) as the first line, then copies
stdin to the socket and the socket to stdout until both sides are done. The test's server
(tests/gitservice/test_transport_process.py) runs the git service's non-stateless
invocation, as the SSH server does with an SSH channel.
"""

import os
import socket
import sys
import threading


def main() -> None:
    port, service = int(sys.argv[1]), sys.argv[2]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(service.encode() + b"\n")

    def upstream() -> None:
        while data := os.read(0, 65536):
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)

    threading.Thread(target=upstream, daemon=True).start()
    while data := sock.recv(65536):
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    os._exit(0)  # the stdin thread may still be blocked in read


main()

"""The stand-in's pod port-forward: the websocket protocol the API server and the kubelet speak
to `kubectl port-forward` and to the official Python client, over a real TCP connection to a
process on this machine standing for the pod's port. Only for tests.

The protocol (v4.channel.k8s.io): binary frames whose first byte is the channel, 2i carrying the
i-th port's data and 2i+1 its errors; the first frame of each channel is the port number, 2 bytes
little-endian. A port that cannot be reached gets a text on its error channel, as the kubelet
sends it, and the connection is closed.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    Request,
)
from wsproto.utilities import LocalProtocolError

PORT_FORWARD_PROTOCOL = "v4.channel.k8s.io"
LIFETIME = 60.0  # seconds a forwarded connection may live, so a test never hangs on one


class ForwardedPort:
    """One websocket connection, on the client's socket `client`, forwarding one port to
    `target` ("host:port", or None when the pod does not listen there)."""

    def __init__(self, client: socket.socket, port: int, pod: str) -> None:
        self.ws = WSConnection(ConnectionType.SERVER)
        self.lock = threading.RLock()
        self.client = client
        self.port = port
        self.pod = pod
        self.upstream: socket.socket | None = None
        self.channel: int | None = None  # of the client's message being received
        self.closed = threading.Event()

    def handshake(self, request: bytes) -> bool:
        """Feed the client's HTTP upgrade request; answer it. False: not a websocket request."""
        self.ws.receive_data(request)
        for event in self.ws.events():
            if isinstance(event, Request):
                offered = list(event.subprotocols)
                chosen = PORT_FORWARD_PROTOCOL if PORT_FORWARD_PROTOCOL in offered else None
                self._send(AcceptConnection(subprotocol=chosen))
                return True
        self.client.sendall(self.ws.send(RejectConnection(status_code=400)))
        return False

    def _send(self, event: Event) -> None:
        with self.lock:
            if self.closed.is_set() and not isinstance(event, CloseConnection):
                return
            try:
                self.client.sendall(self.ws.send(event))
            except (OSError, LocalProtocolError):
                self.closed.set()

    def frame(self, channel: int, data: bytes) -> None:
        self._send(BytesMessage(data=bytes((channel,)) + data))

    def start(self, target: str | None, stray: bool = False) -> None:
        """The channels' first frames, then the connection to the pod's port (or the error).
        `stray`: first a frame on a channel no port has, as a broken API server might send."""
        number = self.port.to_bytes(2, "little")
        if stray:
            self.frame(7, number)
        self.frame(0, number)
        self.frame(1, number)
        try:
            if target is None:
                raise ConnectionRefusedError(111, "connection refused")
            host, _, port = target.rpartition(":")
            self.upstream = socket.create_connection((host, int(port)), timeout=LIFETIME)
        except OSError as error:
            self.frame(1, self.refusal(error).encode())
            self.close()
            return
        threading.Thread(target=self._pump_upstream, daemon=True).start()

    def refusal(self, error: OSError) -> str:
        reason = error.strerror or str(error)
        return (
            f"error forwarding port {self.port} to pod {self.pod}, uid : failed to connect to "
            f"localhost:{self.port} inside namespace of pod {self.pod}, IPv4: dial tcp4 "
            f"127.0.0.1:{self.port}: connect: {reason.lower()}"
        )

    def _pump_upstream(self) -> None:
        assert self.upstream is not None
        try:
            while data := self.upstream.recv(65536):
                self.frame(0, data)
        except OSError:
            pass
        self.close()

    def receive(self, data: bytes) -> None:
        """Bytes from the client: frames to the pod's port, pings answered, close honoured."""
        with self.lock:
            self.ws.receive_data(data or None)
            events = list(self.ws.events())
        for event in events:
            if isinstance(event, BytesMessage):
                # A large message arrives in pieces: only its first carries the channel byte.
                payload = bytes(event.data)
                if self.channel is None and payload:
                    self.channel, payload = payload[0], payload[1:]
                if self.channel == 0 and self.upstream is not None and payload:
                    try:
                        self.upstream.sendall(payload)
                    except OSError:
                        self.close()
                if event.message_finished:
                    self.channel = None
            elif isinstance(event, Ping):
                self._send(event.response())
            elif isinstance(event, CloseConnection):
                self._send(event.response())
                self.closed.set()
        if not data:
            self.closed.set()

    def close(self) -> None:
        if self.upstream is not None:
            with contextlib.suppress(OSError):
                self.upstream.shutdown(socket.SHUT_RDWR)
            self.upstream.close()
        if not self.closed.is_set():
            self._send(CloseConnection(code=1000))
            self.closed.set()
        # Ends the handler's read of the client, which has been sent the close frame.
        with contextlib.suppress(OSError):
            self.client.shutdown(socket.SHUT_RD)

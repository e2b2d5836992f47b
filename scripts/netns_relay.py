"""A TCP relay from an address in a container's network namespace to a port on
this machine's loopback, for scripts/sam_local_test.py.

The functions' containers reach ministack through it, across the Docker
bridge to a container of ours; ministack itself listens on loopback only.
Neither side of the relay crosses this machine's own input path from a
bridge, which a host firewall may close to everything but loopback. The
listening socket is made in the other namespace (setns, as root) by the
thread that then goes back to its own: a socket stays in the namespace it
was made in.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def in_netns(pid: int, make):
    """What `make()` returns, called in process `pid`'s network namespace;
    the calling thread is back in its own namespace on return."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    other = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        _setns(other)
        try:
            return make()
        finally:
            _setns(own)
    finally:
        os.close(other)
        os.close(own)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _connection(client: socket.socket, target: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(target, timeout=10)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
    back.start()
    _pipe(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _serve(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return  # closed: the relay is over
        threading.Thread(target=_connection, args=(client, target), daemon=True).start()


def start(pid: int, listen: tuple[str, int], target: tuple[str, int]) -> socket.socket:
    """Relays connections to `listen` in process `pid`'s network namespace to
    `target` in this one, until the returned socket is closed."""
    listener = in_netns(pid, lambda: socket.create_server(listen, backlog=64))
    threading.Thread(target=_serve, args=(listener, target), daemon=True).start()
    return listener


def can_connect(pid: int, address: tuple[str, int], timeout: float = 3.0) -> str | None:
    """None when a connection made in process `pid`'s network namespace
    reaches `address`; otherwise why not."""
    def attempt():
        try:
            socket.create_connection(address, timeout=timeout).close()
            return None
        except OSError as e:
            return str(e)

    return in_netns(pid, attempt)

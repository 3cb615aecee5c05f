# Sends messages that each carry a real unix fd that no handler keeps, to the daemon and to the
# web: every kind that leaked its fds (finding 5), plus the Legacy Mount forms whose reader
# takes the fd. python3-dbus passes unix fds; busctl cannot.
#   send-fds.py ADDRESS WEB_UNIQUE_NAME ROUNDS
# One round sends one message of each kind. Prints one JSON line: the replies seen per kind.
import json
import os
import socket
import sys
from collections import Counter

import dbus
import dbus.lowlevel

address, web, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
bus = dbus.bus.BusConnection(address)
DAEMON = 'xyz.openbmc_project.VirtualMedia'
ROOT = '/xyz/openbmc_project/VirtualMedia'
LEGACY = ROOT + '/Legacy/Slot_3'
PROXY = ROOT + '/Proxy/Slot_1'
LEGACY_IFACE = 'xyz.openbmc_project.VirtualMedia.Legacy'
PROXY_IFACE = 'xyz.openbmc_project.VirtualMedia.Proxy'
PROPERTIES = 'org.freedesktop.DBus.Properties'


def pipe_fd():
    """The read end of a pipe whose write end is closed: a reader sees EOF at once."""
    r, w = os.pipe()
    os.close(w)
    return r


def udp_fd():
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM).detach()


def unix_fd(make=pipe_fd):
    """python3-dbus dups the fd into the UnixFd; ours is closed right away."""
    fd = make()
    try:
        return dbus.types.UnixFd(fd)
    finally:
        os.close(fd)


def call(dest, path, iface, member, signature, args):
    try:
        bus.call_blocking(dest, path, iface, member, signature, args)
        return 'reply'
    except dbus.exceptions.DBusException as e:
        return e.get_dbus_name()


def signal(dest):
    msg = dbus.lowlevel.SignalMessage(ROOT + '/Legacy/Slot_2', LEGACY_IFACE, 'Completion')
    msg.set_destination(dest)
    msg.append(unix_fd(), signature='h')
    bus.send_message(msg)
    return 'sent'


daemon = bus.get_name_owner(DAEMON)
kinds = {
    'daemon: unknown method': lambda: call(DAEMON, LEGACY, LEGACY_IFACE, 'Eject', 'h', [unix_fd()]),
    'daemon: Mount with a wrong signature': lambda: call(DAEMON, LEGACY, LEGACY_IFACE, 'Mount', 'sh', ['x', unix_fd()]),
    'daemon: unknown object': lambda: call(DAEMON, ROOT + '/Nothing', LEGACY_IFACE, 'Mount', 'h', [unix_fd()]),
    'daemon: Proxy Mount with an fd': lambda: call(DAEMON, PROXY, PROXY_IFACE, 'Mount', 'h', [unix_fd()]),
    'daemon: Properties.Set to h': lambda: call(
        DAEMON, LEGACY, PROPERTIES, 'Set', 'ssv', ['xyz.openbmc_project.VirtualMedia.MountPoint', 'ImageURL', unix_fd()]
    ),
    'daemon: Properties.Set read-only to h': lambda: call(
        DAEMON, LEGACY, PROPERTIES, 'Set', 'ssv', ['xyz.openbmc_project.VirtualMedia.Process', 'Active', unix_fd()]
    ),
    'daemon: Properties.GetAll with an fd': lambda: call(DAEMON, LEGACY, PROPERTIES, 'GetAll', 'sh', ['x', unix_fd()]),
    'daemon: Mount(sbv) with v = ah': lambda: call(
        DAEMON, LEGACY, LEGACY_IFACE, 'Mount', 'sbv', ['https://x/a.iso', False, dbus.Array([unix_fd()], signature='h')]
    ),
    'daemon: Mount(sbh) with a UDP socket': lambda: call(
        DAEMON, LEGACY, LEGACY_IFACE, 'Mount', 'sbh', ['https://x/a.iso', False, unix_fd(udp_fd)]
    ),
    'daemon: Mount(sbv) with an empty pipe': lambda: call(
        DAEMON, LEGACY, LEGACY_IFACE, 'Mount', 'sbv', ['https://x/a.iso', False, unix_fd()]
    ),
    'daemon: signal': lambda: signal(daemon),
    'web: signal': lambda: signal(web),
    # also waits until the web has read the signal before it
    'web: method call': lambda: call(web, '/', LEGACY_IFACE, 'Mount', 'h', [unix_fd()]),
}
seen = {kind: Counter() for kind in kinds}
for _ in range(rounds):
    for kind, send in kinds.items():
        seen[kind][send()] += 1
# the daemon has read every signal once it answers a call sent after them
call(DAEMON, ROOT, 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects', '', [])
print(json.dumps({'messages': rounds * len(kinds), 'seen': seen}))

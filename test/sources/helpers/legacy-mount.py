#!/usr/bin/python3
"""Calls Legacy.Mount with a credentials pipe, as bmcweb does: python3-dbus is a D-Bus client
that passes unix fds (busctl 252 cannot). The password comes on stdin, never in argv.

usage: legacy-mount.py BUS_ADDRESS OBJECT_PATH URL RW(true|false) USER FORM(sbh|sbv) < password
prints the method's reply (True/False) or the D-Bus error name and message, exit 1 on error."""
import os
import sys

import dbus

address, path, url, rw, user, form = sys.argv[1:7]
password = sys.stdin.buffer.read()
bus = dbus.bus.BusConnection(address)
legacy = dbus.Interface(bus.get_object('xyz.openbmc_project.VirtualMedia', path),
                        'xyz.openbmc_project.VirtualMedia.Legacy')
r, w = os.pipe()
os.write(w, user.encode() + b'\0' + password + b'\0')
os.close(w)
# sbv: the fd inside a variant, as introspection shows; sbh: the newer bmcweb form
fd = dbus.types.UnixFd(r, variant_level=1 if form == 'sbv' else 0)
os.close(r)
try:
    reply = legacy.Mount(url, rw == 'true', fd, signature=form)
except dbus.exceptions.DBusException as e:
    print(f'{e.get_dbus_name()}: {e.get_dbus_message()}')
    sys.exit(1)
print(bool(reply))

# Calls Legacy.Mount the way bmcweb does (python3-dbus passes unix fds; busctl cannot).
#   send-credentials.py ADDRESS PATH SIGNATURE URL MODE   (credentials bytes on stdin)
# SIGNATURE: sbh or sbv. MODE: pipe (write end kept open), fifo (one fd opened O_RDWR:
# never reaches EOF), int (sbv with i taken from stdin as a number). Prints one JSON line:
# the reply or error, and how long the call took.
import json
import os
import sys
import tempfile
import time

import dbus

address, path, signature, url, mode = sys.argv[1:6]
payload = sys.stdin.buffer.read()
bus = dbus.bus.BusConnection(address)
obj = bus.get_object('xyz.openbmc_project.VirtualMedia', path)
if mode == 'int':
    arg = dbus.Int32(int(payload))
elif mode == 'fifo':
    fifo = os.path.join(tempfile.mkdtemp(), 'credentials')
    os.mkfifo(fifo, 0o600)
    fd = os.open(fifo, os.O_RDWR)
    os.write(fd, payload)
    arg = dbus.types.UnixFd(fd)
else:
    r, w = os.pipe()
    os.write(w, payload)
    arg = dbus.types.UnixFd(r)
started = time.monotonic()
try:
    reply = obj.Mount(url, False, arg, signature=signature, dbus_interface='xyz.openbmc_project.VirtualMedia.Legacy')
    result = {'reply': bool(reply)}
except dbus.exceptions.DBusException as e:
    result = {'error': e.get_dbus_name(), 'message': e.get_dbus_message()}
result['seconds'] = time.monotonic() - started
print(json.dumps(result))

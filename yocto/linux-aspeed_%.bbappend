# The kernel options vmedia needs (files/vmedia.cfg), for OpenBMC's ASPEED kernel. For another
# kernel recipe, copy this file under its name (e.g. linux-nuvoton_%.bbappend).
FILESEXTRAPATHS:prepend := "${THISDIR}/files:"
SRC_URI += "file://vmedia.cfg"

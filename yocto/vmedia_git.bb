SUMMARY = "vmedia: OpenBMC-compatible virtual media (D-Bus daemon, Redfish VirtualMedia, WebSocket NBD bridge)"
DESCRIPTION = "Serves ISO/IMG images to the host as a USB CD-ROM or stick: \
xyz.openbmc_project.VirtualMedia on D-Bus, nbdkit for remote images, nbd-client and a \
configfs mass-storage gadget for the host, Redfish VirtualMedia over HTTPS."
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

# The release tarball is `npm pack` output: dist/ (compiled), config/, systemd/ and
# package.json; production node_modules come from the npm shrinkwrap via the npm class.
SRC_URI = "npm://registry.npmjs.org/;package=vmedia;version=${PV} \
           npmsw://${THISDIR}/${BPN}/npm-shrinkwrap.json"
S = "${WORKDIR}/npm"

inherit npm systemd

RDEPENDS:${PN} += "nodejs nbdkit nbd-client dbus kmod"
# usocket (unix fd passing for the credentials pipe) is a native addon
DEPENDS += "nodejs-native python3-native"

SYSTEMD_SERVICE:${PN} = "xyz.openbmc_project.VirtualMedia.service vmedia-web.service"

do_install:append() {
    install -d ${D}${systemd_system_unitdir} ${D}${datadir}/dbus-1/system.d \
               ${D}${sysconfdir} ${D}${libdir}/tmpfiles.d
    install -m 0644 ${S}/systemd/*.service ${D}${systemd_system_unitdir}/
    install -m 0644 ${S}/systemd/xyz.openbmc_project.VirtualMedia.conf ${D}${datadir}/dbus-1/system.d/
    install -m 0644 ${S}/systemd/vmedia.tmpfiles.conf ${D}${libdir}/tmpfiles.d/vmedia.conf
    install -m 0644 ${S}/config/virtual-media.json ${D}${sysconfdir}/virtual-media.json
}

CONFFILES:${PN} = "${sysconfdir}/virtual-media.json"

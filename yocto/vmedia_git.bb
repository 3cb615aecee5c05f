SUMMARY = "vmedia: OpenBMC-compatible virtual media (D-Bus daemon, Redfish VirtualMedia, WebSocket NBD bridge)"
DESCRIPTION = "Serves ISO/IMG images to the host as a USB CD-ROM or stick: \
xyz.openbmc_project.VirtualMedia on D-Bus, nbdkit for remote images, nbd-client and a \
configfs mass-storage gadget for the host, Redfish VirtualMedia over HTTPS."
HOMEPAGE = "https://github.com/vmedia-bmc/vmedia"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

require vmedia.inc

# The sources from git, and every npm package of package-lock.json (files/npm-shrinkwrap.json is
# a link to it) fetched by bitbake with their integrity hashes, so do_compile needs no network.
# dev=1: the build runs esbuild, tsx and node-gyp, which are devDependencies or theirs; none of
# them reaches the image (only the bundle does).
VMEDIA_GIT_URI ?= "git://github.com/vmedia-bmc/vmedia.git;protocol=https;branch=main"
SRC_URI = "${VMEDIA_GIT_URI};destsuffix=git \
           npmsw://${THISDIR}/files/npm-shrinkwrap.json;dev=1"
# a release pins this in a bbappend (SRCREV = "<commit>"); AUTOREV follows the branch
SRCREV ?= "${AUTOREV}"
PV = "0.1.0+git${SRCPV}"
S = "${UNPACKDIR}/git"

inherit systemd python3native

# nodejs-native runs the build (npm, esbuild, tsx, node-gyp); the target's nodejs gives
# node-gyp the headers (include/node) to build usocket's addon for the BMC.
DEPENDS = "nodejs-native nodejs"

# nbdkit with the curl plugin (OpenBMC's nbdkit has it) serves http/https/ftp images. sftp://
# needs nbdkit's ssh plugin, which OpenBMC's nbdkit is built without (no libssh): add libssh to
# nbdkit's DEPENDS in a bbappend to get it. The daemon probes the plugins at start and offers
# (Redfish TransferProtocolType, D-Bus Schemes) only the schemes whose plugin loads.
RDEPENDS:${PN} = "nodejs nbd-client nbdkit kmod"
# smb:// and nfs:// images: the daemon mounts the share (util-linux mount, the mount helpers)
RRECOMMENDS:${PN} = "util-linux-mount cifs-utils nfs-utils-client"

SYSTEMD_SERVICE:${PN} = "xyz.openbmc_project.VirtualMedia.service vmedia-web.service"
CONFFILES:${PN} = "${sysconfdir}/virtual-media.json"
FILES:${PN} += "${VMEDIA_DIR} ${datadir}/dbus-1/system.d ${nonarch_libdir}/tmpfiles.d ${nonarch_libdir}/sysusers.d ${nonarch_libdir}/sysctl.d"
# the addons are linked by node-gyp with its own flags, not bitbake's LDFLAGS
INSANE_SKIP:${PN} += "ldflags"

do_configure[noexec] = "1"

do_compile() {
    cd ${S}
    export HOME="${WORKDIR}"
    export npm_config_cache="${WORKDIR}/npm-cache"
    # npmsw unpacked node_modules/ without running anything: make its bin links (npx esbuild in
    # scripts/build.sh), still without install scripts (usocket is built below, for the BMC)
    npm rebuild --offline --ignore-scripts
    # the fixes in patches/ (dbus-next, usocket's addon), which npm's postinstall applies and
    # --ignore-scripts skipped: before the addons below are compiled from their sources
    node node_modules/patch-package/index.js
    # the addons for the BMC, with the cross compiler bitbake exports (CC, CXX, LD, AR):
    # usocket (D-Bus fd passing), bufferutil (the bridge's unmasking; its prebuilds are x86 only)
    # and sockopt (the data sockets' send buffers; its prebuilds are macOS files, whatever their name)
    for addon in usocket bufferutil sockopt; do
        cd ${S}/node_modules/$addon
        node ${S}/node_modules/node-gyp/bin/node-gyp.js rebuild \
            --arch=${VMEDIA_NODE_ARCH} --nodedir=${RECIPE_SYSROOT}${prefix}
    done
    cd ${S}
    # the bundle: esbuild runs on the build machine (nodejs-native), the output is plain JS;
    # no SQLite: a BMC never runs the gateway
    node node_modules/tsx/dist/cli.mjs scripts/bundle.ts --out ${B}/bundle --no-sqlite \
        --usocket-addon ${S}/node_modules/usocket/build/Release/uwrap.node \
        --bufferutil-addon ${S}/node_modules/bufferutil/build/Release/bufferutil.node \
        --sockopt-addon ${S}/node_modules/sockopt/build/Release/sockopt.node
}

do_install() {
    install -d ${D}${VMEDIA_DIR} ${D}${bindir}
    cp -R --no-preserve=ownership ${B}/bundle/. ${D}${VMEDIA_DIR}/
    test -f ${D}${VMEDIA_DIR}/${VMEDIA_CLI}
    test -f ${D}${VMEDIA_DIR}/node_modules/usocket/uwrap.node
    test -f ${D}${VMEDIA_DIR}/node_modules/bufferutil/bufferutil.node
    test -f ${D}${VMEDIA_DIR}/node_modules/sockopt/sockopt.node
    # the operator's `vmedia` command (and vmedia-web.service's ExecStart)
    lnr ${D}${VMEDIA_DIR}/${VMEDIA_CLI} ${D}${bindir}/vmedia

    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/systemd/xyz.openbmc_project.VirtualMedia.service ${D}${systemd_system_unitdir}/
    install -m 0644 ${S}/systemd/vmedia-web.service ${D}${systemd_system_unitdir}/
    install -d ${D}${datadir}/dbus-1/system.d
    install -m 0644 ${S}/systemd/xyz.openbmc_project.VirtualMedia.conf ${D}${datadir}/dbus-1/system.d/
    install -d ${D}${nonarch_libdir}/tmpfiles.d ${D}${nonarch_libdir}/sysusers.d
    install -m 0644 ${S}/systemd/vmedia.tmpfiles.conf ${D}${nonarch_libdir}/tmpfiles.d/vmedia.conf
    install -m 0644 ${S}/systemd/vmedia.sysusers.conf ${D}${nonarch_libdir}/sysusers.d/vmedia.conf
    # the web's 2 MiB send buffer needs net.core.wmem_max at 1 MiB (the kernel's default is 208 KiB)
    install -d ${D}${nonarch_libdir}/sysctl.d
    install -m 0644 ${S}/systemd/vmedia.sysctl.conf ${D}${nonarch_libdir}/sysctl.d/50-vmedia.conf
    install -d ${D}${sysconfdir}
    install -m 0644 ${S}/config/virtual-media.json ${D}${sysconfdir}/virtual-media.json
}

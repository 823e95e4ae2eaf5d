package apkrepo

import (
	"io/fs"
	"strings"
)

// Versions of the base packages.
const (
	wolfiBaselayoutVersion  = "20230201-r24"
	alpineBaselayoutVersion = "3.7.0-r0"
	glibcVersion            = "2.42-r0"
	muslVersion             = "1.2.5-r10"
	busyboxVersion          = "1.37.0-r0"
	bashVersion             = "5.2.37-r0"
	apkToolsVersion         = "2.14.10-r0"
	opensslVersion          = "3.5.0-r0"
)

func dir(p string) File { return File{Path: p, Kind: KindDir, Mode: 0o755} }
func dirMode(p string, m fs.FileMode) File {
	return File{Path: p, Kind: KindDir, Mode: m}
}
func text(p, body string) File      { return File{Path: p, Mode: 0o644, Data: []byte(body)} }
func symlink(p, target string) File { return File{Path: p, Kind: KindSymlink, Target: target} }

// exe is a bulk executable.
func exe(p string, mode fs.FileMode, share float64) bulkFile {
	return bulkFile{path: p, mode: mode, share: share}
}

// cmds returns "cmd:<n>=<version>" provides.
func cmds(version string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "cmd:" + n + "=" + version
	}
	return out
}

// baseDirs is the directory skeleton of both baselayouts.
func baseDirs() []File {
	var files []File
	for _, d := range []string{"bin", "sbin", "lib", "usr", "usr/bin", "usr/sbin", "usr/lib",
		"usr/local", "usr/local/bin", "usr/share", "etc", "etc/apk", "home", "var", "var/lib",
		"var/cache", "var/log", "run", "dev", "proc", "sys", "mnt", "opt", "srv"} {
		files = append(files, dir(d))
	}
	return append(files,
		dirMode("root", 0o700),
		// Only /tmp: apko v0.30 drops the sticky bit of package directories
		// when it installs them, which would turn a sticky /var/tmp into a
		// world-writable one (apko makes /tmp itself, with the bit).
		dirMode("tmp", 0o777|fs.ModeSticky))
}

// baseAccountFiles is /etc/passwd with root only and the matching groups.
func baseAccountFiles() []File {
	return []File{
		text("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
		text("etc/group", "root:x:0:root\ntty:x:5:\nshadow:x:42:\nnogroup:x:65533:\n"),
		text("etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n"),
		text("etc/shells", "/bin/sh\n/bin/bash\n"),
		text("etc/profile", "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"),
	}
}

// baseSpecs returns the base packages of a distro on arch.
func baseSpecs(alpine bool, arch string) []spec {
	libc := "glibc"
	if alpine {
		libc = "musl"
	}
	dep := []string{libc}
	var out []spec
	if alpine {
		out = append(out,
			spec{name: "alpine-baselayout-data", version: alpineBaselayoutVersion, license: "GPL-2.0-only",
				desc: "Alpine base dir structure and init scripts (data files)",
				files: append(baseAccountFiles(), text("etc/os-release",
					"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.22.0\nPRETTY_NAME=\"Alpine Linux v3.22\"\nHOME_URL=\"https://alpinelinux.org/\"\n"))},
			spec{name: "alpine-baselayout", version: alpineBaselayoutVersion, license: "GPL-2.0-only",
				desc:    "Alpine base dir structure and init scripts",
				depends: []string{"alpine-baselayout-data"}, files: baseDirs()},
			spec{name: "musl", version: muslVersion, license: "MIT", desc: "the musl c library (libc) implementation",
				provides: []string{"so:libc.musl-" + arch + ".so.1=1"},
				files:    []File{symlink("lib/libc.musl-"+arch+".so.1", "ld-musl-"+arch+".so.1")},
				bulk:     []bulkFile{exe("lib/ld-musl-"+arch+".so.1", 0o755, 1)}},
		)
	} else {
		ld, ldver, lddir := "ld-linux-x86-64.so.2", "2", "lib64"
		if arch != "x86_64" {
			ld, ldver, lddir = "ld-linux-"+strings.ReplaceAll(arch, "_", "-")+".so.1", "1", "lib"
		}
		out = append(out,
			spec{name: "wolfi-baselayout", version: wolfiBaselayoutVersion, license: "MIT",
				desc: "baselayout data for Wolfi",
				files: append(append(baseDirs(), baseAccountFiles()...), text("etc/os-release",
					"ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=\"20230201\"\nHOME_URL=\"https://wolfi.dev\"\n"))},
			spec{name: "ld-linux", version: glibcVersion, license: "LGPL-2.1-or-later", desc: "the GNU C library dynamic loader",
				provides: []string{"so:" + ld + "=" + ldver},
				files:    []File{symlink(lddir+"/"+ld, "../usr/lib/"+ld)},
				bulk:     []bulkFile{exe("usr/lib/"+ld, 0o755, 1)}},
			spec{name: "glibc", version: glibcVersion, license: "LGPL-2.1-or-later", desc: "the GNU C library",
				depends:  []string{"ld-linux", "wolfi-baselayout"},
				provides: []string{"so:libc.so.6=6", "so:libm.so.6=6", "so:libpthread.so.0=0", "so:libresolv.so.2=2"},
				bulk: []bulkFile{
					exe("usr/lib/libc.so.6", 0o755, 0.70), exe("usr/lib/libm.so.6", 0o755, 0.15),
					exe("usr/lib/libresolv.so.2", 0o755, 0.05), exe("usr/lib/libpthread.so.0", 0o755, 0.02),
					exe("usr/lib/libnss_files.so.2", 0o755, 0.02), exe("usr/lib/libdl.so.2", 0o755, 0.01),
					exe("usr/lib/librt.so.1", 0o755, 0.01), {path: "usr/share/i18n/locales/C", mode: 0o644, share: 0.04},
				}},
		)
	}
	apkFiles := []File(nil)
	if !alpine {
		apkFiles = []File{symlink("usr/bin/apk", "/sbin/apk")}
	}
	busyboxApplets := []string{"ash", "cat", "chmod", "cp", "echo", "grep", "ls", "mkdir", "mv", "ps", "rm", "sed", "sleep", "sh"}
	var busyboxFiles []File
	for _, a := range busyboxApplets {
		busyboxFiles = append(busyboxFiles, symlink("bin/"+a, "/bin/busybox"))
	}
	busyboxFiles = append(busyboxFiles, symlink("usr/bin/env", "/bin/busybox"))
	// The applet manifest Wolfi and Alpine ship; without it apko links its
	// built-in applet list, which includes /bin/bash.
	var manifest strings.Builder
	for _, f := range busyboxFiles {
		manifest.WriteString("/" + f.Path + "\n")
	}
	busyboxFiles = append(busyboxFiles, text("etc/busybox-paths.d/busybox", manifest.String()))
	out = append(out,
		spec{name: "ca-certificates-bundle", version: "20250619-r0", license: "MPL-2.0 AND MIT",
			desc: "Pre generated bundle of Mozilla certificates",
			bulk: []bulkFile{{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, share: 1}}},
		spec{name: "tzdata", version: "2025b-r0", license: "Public-Domain", desc: "Timezone data",
			bulk: []bulkFile{
				{path: "usr/share/zoneinfo/tzdata.zi", mode: 0o644, share: 0.9},
				{path: "usr/share/zoneinfo/UTC", mode: 0o644, share: 0.01},
				{path: "usr/share/zoneinfo/Etc/UTC", mode: 0o644, share: 0.01},
				{path: "usr/share/zoneinfo/Europe/Berlin", mode: 0o644, share: 0.03},
				{path: "usr/share/zoneinfo/America/New_York", mode: 0o644, share: 0.03},
				{path: "usr/share/zoneinfo/Asia/Tokyo", mode: 0o644, share: 0.02},
			}},
		spec{name: "busybox", version: busyboxVersion, license: "GPL-2.0-only", desc: "Size optimized toolbox of many common UNIX utilities",
			depends:  dep,
			provides: cmds(busyboxVersion, append([]string{"busybox", "env"}, busyboxApplets...)...),
			files:    busyboxFiles,
			bulk:     []bulkFile{exe("bin/busybox", 0o755, 1)}},
		spec{name: "bash", version: bashVersion, license: "GPL-3.0-or-later", desc: "GNU bourne again shell",
			depends: dep, provides: cmds(bashVersion, "bash"),
			bulk: []bulkFile{exe("bin/bash", 0o755, 0.9), {path: "usr/share/bash/bashrc", mode: 0o644, share: 0.1}}},
		spec{name: "zlib", version: "1.3.1-r0", license: "Zlib", desc: "a compression/decompression library",
			depends: dep, provides: []string{"so:libz.so.1=1"},
			bulk: []bulkFile{exe("usr/lib/libz.so.1", 0o755, 1)}},
		spec{name: "libcrypto3", version: opensslVersion, license: "Apache-2.0", desc: "Crypto library from openssl",
			depends: dep, provides: []string{"so:libcrypto.so.3=3"},
			bulk: []bulkFile{exe("usr/lib/libcrypto.so.3", 0o755, 1)}},
		spec{name: "libssl3", version: opensslVersion, license: "Apache-2.0", desc: "SSL shared libraries",
			depends: []string{libc, "libcrypto3"}, provides: []string{"so:libssl.so.3=3"},
			bulk: []bulkFile{exe("usr/lib/libssl.so.3", 0o755, 1)}},
		spec{name: "apk-tools", version: apkToolsVersion, license: "GPL-2.0-only", desc: "Alpine Package Keeper - package manager",
			depends:  []string{libc, "libcrypto3", "libssl3", "zlib", "ca-certificates-bundle"},
			provides: cmds(apkToolsVersion, "apk"),
			files:    apkFiles,
			bulk:     []bulkFile{exe("sbin/apk", 0o755, 0.4), exe("usr/lib/libapk.so.2.14.0", 0o755, 0.6)}},
		spec{name: "shadow", version: "4.17.4-r0", license: "BSD-3-Clause", desc: "PAM-using login and passwd utilities",
			depends: dep, provides: cmds("4.17.4-r0", "passwd", "chsh", "chfn", "newgrp", "gpasswd", "chage", "useradd", "usermod"),
			files: []File{text("etc/login.defs", "PASS_MAX_DAYS\t99999\nUMASK\t022\n")},
			bulk: []bulkFile{
				exe("usr/bin/passwd", 0o755|fs.ModeSetuid, 0.2), exe("usr/bin/chsh", 0o755|fs.ModeSetuid, 0.1),
				exe("usr/bin/chfn", 0o755|fs.ModeSetuid, 0.1), exe("usr/bin/newgrp", 0o755|fs.ModeSetuid, 0.1),
				exe("usr/bin/gpasswd", 0o755|fs.ModeSetuid, 0.1), exe("usr/bin/chage", 0o755|fs.ModeSetgid, 0.1),
				exe("usr/sbin/useradd", 0o755, 0.15), exe("usr/sbin/usermod", 0o755, 0.15),
			}},
		spec{name: "sudo", version: "1.9.17-r0", license: "ISC", desc: "Give certain users the ability to run some commands as root",
			depends: dep, provides: cmds("1.9.17-r0", "sudo"),
			files: []File{{Path: "etc/sudoers", Mode: 0o440, Data: []byte("root ALL=(ALL:ALL) ALL\n")}},
			bulk:  []bulkFile{exe("usr/bin/sudo", 0o755|fs.ModeSetuid, 0.3), exe("usr/libexec/sudo/sudoers.so", 0o755, 0.7)}},
		spec{name: "su-exec", version: "0.2-r3", license: "MIT", desc: "switch user and group id, setgroups and exec",
			depends: dep, provides: cmds("0.2-r3", "su-exec"),
			bulk: []bulkFile{exe("sbin/su-exec", 0o755, 1)}},
	)
	for i := range out {
		out[i].size = realisticSize(out[i].name)
	}
	return out
}
